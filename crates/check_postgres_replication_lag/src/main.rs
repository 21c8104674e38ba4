use check_postgres_replication_lag as check;
fn main() {
    plugin_core::run(check::PLUGIN, check::check)
}
