//! `custos-gen icinga2 DIR`: writes one Icinga 2 CheckCommand file per check into DIR
//! (`nagios/icinga2` in the repository; `make generate`).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some("icinga2"), Some(dir)) = (args.get(1).map(String::as_str), args.get(2)) else {
        eprintln!("usage: custos-gen icinga2 DIR");
        std::process::exit(2);
    };
    for (plugin, cmd) in custos_conventions::checks() {
        let path = std::path::Path::new(dir)
            .join(format!("{}.conf", custos_conventions::short_name(&cmd)));
        std::fs::write(&path, custos_conventions::icinga2(&plugin, &cmd))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("{}", path.display());
    }
}
