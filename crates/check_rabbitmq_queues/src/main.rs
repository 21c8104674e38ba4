use check_rabbitmq_queues as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
