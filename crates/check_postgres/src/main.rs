fn main() {
    plugin_core::run(check_postgres::PLUGIN, check_postgres::check)
}
