//! The workspace's conventions, so that a new check cannot land without them:
//! - a crate per check under crates/, named as the binary, registered here;
//! - main.rs a few lines that call plugin_core::run; the logic in lib.rs (`PLUGIN`, `check`);
//! - every option of the check on its page (crates/<check>/README.md; common ones in the README),
//!   in its Icinga 2 CheckCommand, and the check in the Nagios 4 commands and NRPE examples.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

/// Every check, as the runner builds its command line (registered in src/lib.rs).
fn checks() -> Vec<clap::Command> {
    custos_conventions::checks()
        .into_iter()
        .map(|(_, cmd)| cmd)
        .collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn long_options(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !matches!(*l, "help" | "version"))
        .map(|l| format!("--{l}"))
        .collect()
}

#[test]
fn every_check_crate_is_registered() {
    let mut dirs: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("check_"))
        .collect();
    dirs.sort();
    let mut names: Vec<String> = checks().iter().map(|c| c.get_name().to_string()).collect();
    names.sort();
    assert_eq!(
        dirs, names,
        "crates/check_* and the checks registered in tests/conventions differ"
    );
}

#[test]
fn crates_have_a_tiny_main_and_their_logic_in_lib() {
    for cmd in checks() {
        let name = cmd.get_name();
        let manifest = read(&format!("crates/{name}/Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name}: package name"
        );
        let main = read(&format!("crates/{name}/src/main.rs"));
        let lines = main.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(
            lines <= 5,
            "{name}: main.rs has {lines} lines; keep the logic in lib.rs"
        );
        assert!(
            main.contains("plugin_core::run("),
            "{name}: main.rs must call plugin_core::run"
        );
        let lib = read(&format!("crates/{name}/src/lib.rs"));
        assert!(
            lib.contains("pub const PLUGIN"),
            "{name}: lib.rs exports PLUGIN"
        );
        assert!(
            lib.contains("pub fn check("),
            "{name}: lib.rs exports check()"
        );
        assert!(
            lib.starts_with("//!"),
            "{name}: lib.rs starts with module docs"
        );
    }
}

/// A section of the top README: from its `### name` heading to the next `###`/`##`.
fn readme_section(readme: &str, name: &str) -> Option<String> {
    let start = readme.find(&format!("\n### {name}\n"))? + 1;
    let rest = &readme[start + 4..];
    let end = rest
        .find("\n### ")
        .into_iter()
        .chain(rest.find("\n## "))
        .min()
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// A check's page with the client pages it links to (`../pg/README.md`: the connection options
/// a family shares are documented once, on its client's page).
fn page_with_links(name: &str) -> String {
    let page = custos_conventions::page(name);
    let mut all = page.clone();
    for client in ["pg", "rabbitmq", "http", "zulip"] {
        if page.contains(&format!("](../{client}/README.md)")) {
            all.push_str(&read(&format!("crates/{client}/README.md")));
        }
    }
    all
}

#[test]
fn every_option_is_documented_on_the_checks_page() {
    for cmd in checks() {
        let name = cmd.get_name();
        let page = custos_conventions::page(name);
        assert!(
            page.starts_with(&format!("# {name}\n")),
            "crates/{name}/README.md starts with '# {name}'"
        );
        let documented = page_with_links(name);
        for opt in long_options(&cmd).iter().filter(|o| !is_common(o)) {
            assert!(
                documented.contains(&format!("`{opt}")),
                "crates/{name}/README.md (or a client page it links to) does not document {opt}"
            );
        }
        assert!(
            page.contains("```"),
            "crates/{name}/README.md has no example"
        );
        for heading in ["## Options", "## States", "## Perfdata"] {
            assert!(
                page.contains(&format!("\n{heading}")),
                "crates/{name}/README.md has no '{heading}' section"
            );
        }
    }
    // The common options are documented once, for all checks, in the top README.
    let readme = read("README.md");
    let common = readme_section(&readme, "Common options")
        .expect("README.md has a '### Common options' section");
    for opt in long_options(&checks()[0]).iter().filter(|o| is_common(o)) {
        assert!(
            common.contains(opt.as_str()),
            "README common options lack {opt}"
        );
    }
}

#[test]
fn the_readme_links_every_checks_page() {
    let readme = read("README.md");
    for cmd in checks() {
        let name = cmd.get_name();
        assert!(
            readme.contains(&format!("](crates/{name}/README.md)")),
            "README.md does not link crates/{name}/README.md"
        );
    }
    assert!(
        !readme.contains("../shared"),
        "README.md points outside the repository"
    );
}

fn is_common(opt: &str) -> bool {
    use clap::Args;
    // The options plugin-core adds to every check (documented once, under Common options).
    let common = plugin_core::CommonArgs::augment_args(clap::Command::new("common"));
    let found = common
        .get_arguments()
        .filter_map(|a| a.get_long())
        .any(|l| opt.strip_prefix("--") == Some(l));
    found
}

#[test]
fn every_option_is_in_the_command_definitions() {
    let nagios = read("nagios/nagios4/commands.cfg");
    let nrpe = read("nagios/nrpe/custos.cfg");
    for cmd in checks() {
        let name = cmd.get_name();
        let short = &custos_conventions::icinga2_name(&cmd);
        let icinga = read(&format!("nagios/icinga2/{short}.conf"));
        assert!(
            icinga.contains(&format!("object CheckCommand \"{short}\"")),
            "{short}.conf names the CheckCommand {short}"
        );
        for opt in long_options(&cmd) {
            assert!(
                icinga.contains(&format!("\"{opt}\"")),
                "nagios/icinga2/{short}.conf lacks {opt}"
            );
            let var = format!(
                "${short}_{}$",
                opt.trim_start_matches("--").replace('-', "_")
            );
            assert!(
                icinga.contains(&var),
                "nagios/icinga2/{short}.conf lacks {var}"
            );
        }
        assert!(
            nagios.contains(&format!("/{name} ")),
            "nagios4/commands.cfg has no command running {name}"
        );
        assert!(
            nrpe.contains(&format!("/{name} ")),
            "nrpe/custos.cfg has no command running {name}"
        );
    }
}

#[test]
fn icinga2_files_are_generated_from_the_options() {
    for (plugin, cmd) in custos_conventions::checks() {
        let short = custos_conventions::icinga2_name(&cmd);
        let shipped = read(&format!("nagios/icinga2/{short}.conf"));
        assert!(
            shipped == custos_conventions::icinga2(&plugin, &cmd),
            "nagios/icinga2/{short}.conf differs from what the options generate: run `make generate`"
        );
    }
}

#[test]
fn man_pages_are_generated_from_the_options() {
    for (plugin, cmd) in custos_conventions::checks() {
        let shipped = read(&format!("man/{}.1", plugin.name));
        let page = custos_conventions::page(plugin.name);
        assert!(
            shipped == custos_conventions::man(&plugin, &cmd, &page),
            "man/{}.1 differs from what the options and README generate: run `make generate`",
            plugin.name
        );
        // Every option is in the page (clap_mangen escapes '-' as '\-').
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                let roff_long = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(
                    shipped.contains(&roff_long),
                    "man/{}.1 lacks --{long}",
                    plugin.name
                );
            }
        }
        assert!(
            shipped.contains(".SH EXAMPLES"),
            "man/{}.1 has no examples: crates/{}/README.md needs a code block",
            plugin.name,
            plugin.name
        );
    }
}

#[test]
fn readme_examples_are_the_first_code_block_of_the_page() {
    let page = "# check_a\ntext\n```sh\ncheck_a -w 1\ncheck_a -c 2\n```\nmore\n```\nsecond\n```\n";
    assert_eq!(
        custos_conventions::readme_examples(page).as_deref(),
        Some("check_a -w 1\ncheck_a -c 2")
    );
    assert_eq!(
        custos_conventions::readme_examples("# check_b\nno code\n"),
        None
    );
    assert_eq!(
        custos_conventions::readme_intro("# check_a\n\nOne `line`,\ntwo.\n\nmore"),
        "One line, two."
    );
}

#[test]
fn icinga2_names_do_not_clash_with_the_template_library() {
    // The ITL ships with icinga2 (make test installs it).
    let itl = Path::new("/usr/share/icinga2/include");
    let mut defined = String::new();
    let mut stack = vec![itl.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("the Icinga Template Library (Debian's icinga2)") {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                defined.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    for cmd in checks() {
        let name = custos_conventions::icinga2_name(&cmd);
        assert!(
            !defined.contains(&format!("CheckCommand \"{name}\"")),
            "the ITL already defines CheckCommand {name}: add it to ITL_NAMES"
        );
    }
    // Every exception is needed.
    for taken in custos_conventions::ITL_NAMES {
        assert!(
            defined.contains(&format!("CheckCommand \"{taken}\"")),
            "{taken} is free in the ITL"
        );
    }
}

/// The README's vocabulary table names, for each check, the Nagios command, the Icinga 2
/// CheckCommand and the Prometheus `check` label that exist.
#[test]
fn one_vocabulary_across_nagios_icinga_and_prometheus() {
    let readme = read("README.md");
    let nagios = read("nagios/nagios4/commands.cfg");
    for (plugin, cmd) in custos_conventions::checks() {
        let name = cmd.get_name();
        let short = custos_conventions::short_name(&cmd);
        let icinga = custos_conventions::icinga2_name(&cmd);
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {name} | ")))
            .unwrap_or_else(|| panic!("README's vocabulary table has no row for {name}"));
        assert!(row.contains(&format!("`custos_{short}`")), "{row}");
        assert!(
            nagios.contains(&format!("command_name    custos_{short}\n")),
            "commands.cfg lacks custos_{short}"
        );
        assert!(row.contains(&format!("`{icinga}`")), "{row}");
        let metrics =
            plugin_core::render_openmetrics(plugin.name, &plugin_core::Report::ok("x"), 0.0);
        assert!(metrics.contains(&format!("check=\"{short}\"")), "{metrics}");
        assert!(row.ends_with(&format!("`{short}` |")), "{row}");
    }
}

/// `make demo` installs only the servers the demo runs; `make test` everything its tests use.
#[test]
fn the_demo_installs_only_what_it_uses() {
    let list = |demo: bool| {
        let out = std::process::Command::new("sh")
            .arg(root().join("tests/install-deps.sh"))
            .env("LIST", "1")
            .env("DEMO", if demo { "1" } else { "" })
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let demo = list(true);
    let test = list(false);
    for server in ["postgresql", "rabbitmq-server", "nginx"] {
        assert!(demo.lines().any(|l| l == server), "demo: {demo}");
    }
    for daemon in [
        "nagios4",
        "icinga2",
        "nagios-nrpe-server",
        "prometheus",
        "openssh-server",
    ] {
        assert!(
            !demo.lines().any(|l| l == daemon),
            "demo installs {daemon}: {demo}"
        );
        assert!(
            test.lines().any(|l| l == daemon),
            "test lacks {daemon}: {test}"
        );
    }
    let makefile = read("Makefile");
    assert!(
        makefile.contains("demo: build\n\t@DEMO=1 sh tests/install-deps.sh"),
        "make demo uses DEMO=1"
    );
}
