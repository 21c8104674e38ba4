use check_postgres_backup as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
