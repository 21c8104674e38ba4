fn main() {
    plugin_core::run(check_cron_file::PLUGIN, check_cron_file::check)
}
