//! `custos-gen icinga2 DIR`: one Icinga 2 CheckCommand file per check (`nagios/icinga2`);
//! `custos-gen man DIR`: one man page per check (`man/`). `make generate` runs both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(what @ ("icinga2" | "man")), Some(dir)) =
        (args.get(1).map(String::as_str), args.get(2))
    else {
        eprintln!("usage: custos-gen icinga2|man DIR");
        std::process::exit(2);
    };
    for (plugin, cmd) in custos_conventions::checks() {
        let (path, text) = if what == "man" {
            (
                Path::new(dir).join(format!("{}.1", plugin.name)),
                custos_conventions::man(&plugin, &cmd, &custos_conventions::page(plugin.name)),
            )
        } else {
            (
                Path::new(dir).join(format!("{}.conf", custos_conventions::icinga2_name(&cmd))),
                custos_conventions::icinga2(&plugin, &cmd),
            )
        };
        // The same writer as state files: never through a symlink, never half written.
        plugin_core::files::write_atomic(&path, text.as_bytes())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("{}", path.display());
    }
}
