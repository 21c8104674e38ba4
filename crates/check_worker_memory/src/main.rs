use check_worker_memory as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
