use check_rabbitmq_consumers as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
