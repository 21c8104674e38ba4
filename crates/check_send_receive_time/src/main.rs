use check_send_receive_time as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
