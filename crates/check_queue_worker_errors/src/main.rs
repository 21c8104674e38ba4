use check_queue_worker_errors as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
