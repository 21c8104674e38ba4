use check_website_response as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
