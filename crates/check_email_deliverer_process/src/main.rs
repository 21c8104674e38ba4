use check_email_deliverer_process as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
