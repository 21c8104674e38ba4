fn main() {
    plugin_core::run(check_fts_update_log::PLUGIN, check_fts_update_log::check)
}
