use check_debian_packages as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
