//! What `apt-get upgrade` decides, without apt: the candidate of every installed package
//! (apt's `pkgPolicy`: file priorities, pins, `GetCandidateVer`), every candidate marked for
//! installation except held packages (`pkgAllUpgradeNoNewPackages`), then packages kept back
//! until no dependency is broken (`pkgProblemResolver::ResolveByKeep`, in the order of apt's
//! `MakeScores`).

use crate::prefs::{FileInfo, Pin, NEVER};
use crate::version::{self, Op};
use std::cmp::Ordering;
use std::collections::HashMap;

/// One alternative of a dependency: `name[:any] [(op version)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alt {
    /// The package name.
    pub name: String,
    /// `:any` (any architecture's package satisfies it).
    pub any: bool,
    /// The version relation, if any.
    pub rel: Option<(Op, String)>,
}

/// A provided name, with its version when the Provides entry has one (`foo (= 1.0)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Provide {
    /// The provided name.
    pub name: String,
    /// Its version, when given.
    pub version: Option<String>,
}

/// apt's `pkgCache::State::VerPriority`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Priority {
    #[default]
    /// No Priority field.
    Unknown,
    /// `required`.
    Required,
    /// `important`.
    Important,
    /// `standard`.
    Standard,
    /// `optional`.
    Optional,
    /// `extra`.
    Extra,
}

#[derive(Debug, Clone, Default)]
/// One version of a package, from one or more stanzas.
pub struct Version {
    /// The version string.
    pub version: String,
    /// Indices into [`Universe::files`], in the order apt read them.
    pub files: Vec<usize>,
    /// Pre-Depends and Depends: groups of alternatives.
    pub depends: Vec<Vec<Alt>>,
    /// Recommends: groups of alternatives.
    pub recommends: Vec<Vec<Alt>>,
    /// Conflicts.
    pub conflicts: Vec<Alt>,
    /// Breaks.
    pub breaks: Vec<Alt>,
    /// Provides.
    pub provides: Vec<Provide>,
    /// `Multi-Arch: allowed` (it satisfies `name:any`).
    pub multi_arch_allowed: bool,
    /// `Phased-Update-Percentage`.
    pub phased: Option<u32>,
    /// The Priority field.
    pub priority: Priority,
    /// The stanza's Essential and Important (or Protected) fields, when present: apt keeps
    /// them per package, the last stanza that has one deciding.
    pub essential: Option<bool>,
    /// The Important (or Protected) field, when present.
    pub important: Option<bool>,
    /// The source package's name.
    pub source: String,
    /// The Architecture field.
    pub arch: String,
    /// What apt hashes to tell two stanzas of one version apart (`VersionHash`: Installed-Size
    /// and the relationship fields, without spaces and `=`, lower case). Kept as a 64-bit
    /// hash, as apt keeps it (a 32-bit one there): the text would be the biggest string of
    /// every version.
    pub identity: u64,
    /// The Size field (0 in dpkg's status file).
    pub size: u64,
    /// The Multi-Arch field as written (`same`, `foreign`, `allowed`, or empty).
    pub multi_arch: String,
    /// When apt's cache generator created it (lists in order, then dpkg's status): provides
    /// are listed newest first, which decides what ResolveByKeep keeps back first.
    pub created: usize,
}

impl Version {
    /// apt's `SameVersion`: one version, read from two files.
    pub fn same(&self, other: &Version) -> bool {
        self.identity == other.identity
            && (self.size == 0 || other.size == 0 || self.size == other.size)
            && self.multi_arch == other.multi_arch
    }
}

impl Package {
    /// Applies a stanza's flags, as apt's `UsePackage` does for every stanza it reads.
    pub fn use_flags(&mut self, v: &Version) {
        if let Some(e) = v.essential {
            self.essential = e;
        }
        if let Some(i) = v.important {
            self.important = i;
        }
    }

    /// Adds a version read from `file` where apt's cache generator puts it
    /// (`MergeListVersion`): before the first lower version; merged into an equal one that
    /// is the same; after equal ones that are not. Returns its index.
    pub fn add(&mut self, mut v: Version, file: usize) -> usize {
        for i in 0..self.versions.len() {
            match version::compare(&v.version, &self.versions[i].version) {
                Ordering::Greater => {
                    v.files = vec![file];
                    self.versions.insert(i, v);
                    return i;
                }
                Ordering::Equal if v.same(&self.versions[i]) => {
                    if !self.versions[i].files.contains(&file) {
                        self.versions[i].files.push(file);
                    }
                    return i;
                }
                _ => {}
            }
        }
        v.files = vec![file];
        self.versions.push(v);
        self.versions.len() - 1
    }
}

/// An installed package and the versions apt knows of it.
#[derive(Debug, Clone)]
pub struct Package {
    /// The name.
    pub name: String,
    /// dpkg's selection is `hold`.
    pub hold: bool,
    /// apt's Essential and Important package flags.
    pub essential: bool,
    /// See `essential`.
    pub important: bool,
    /// Versions, newest first (apt's VersionList order).
    pub versions: Vec<Version>,
    /// The installed one.
    pub current: usize,
}

/// Everything installed, the versions the lists offer for it, and the package files.
#[derive(Debug, Default)]
pub struct Universe {
    /// The package files (lists, and dpkg's status file).
    pub files: Vec<FileInfo>,
    /// The installed packages.
    pub packages: Vec<Package>,
    /// A package's index in `packages` by name.
    pub index: HashMap<String, usize>,
}

/// apt's configuration as the policy and the resolver use it.
pub struct Settings<'a> {
    /// The preferences records.
    pub pins: &'a [Pin],
    /// `APT::Default-Release`.
    pub default_release: Option<&'a str>,
    /// `APT::Architecture`.
    pub native_arch: &'a str,
    /// `APT::Install-Recommends`.
    pub install_recommends: bool,
    /// `APT::Ignore-Hold`.
    pub ignore_hold: bool,
}

/// The candidate version of each package, as apt's policy chooses it.
pub fn candidates(u: &Universe, s: &Settings) -> Vec<Option<usize>> {
    let file_prio = file_priorities(u, s);
    u.packages
        .iter()
        .map(|pkg| {
            let ver_pin = version_pins(u, s, pkg);
            let priority = |vi: usize| -> i32 {
                let v = &pkg.versions[vi];
                if let Some(p) = ver_pin[vi] {
                    if p == NEVER {
                        return NEVER;
                    }
                    if v.files.iter().any(|&f| file_prio[f] != NEVER) {
                        return p;
                    }
                }
                let mut prio = i32::MIN;
                for &f in &v.files {
                    prio = prio.max(if u.files[f].status && vi != pkg.current {
                        -1
                    } else {
                        file_prio[f]
                    });
                }
                if prio == i32::MIN {
                    0
                } else {
                    prio
                }
            };
            let cur = &pkg.versions[pkg.current].version;
            let mut cand = None;
            let mut cand_prio = -1;
            for vi in 0..pkg.versions.len() {
                let p = priority(vi);
                if p == 0 || p <= cand_prio {
                    continue;
                }
                if p < 1000 && version::compare(&pkg.versions[vi].version, cur) == Ordering::Less {
                    continue;
                }
                cand_prio = p;
                cand = Some(vi);
            }
            cand
        })
        .collect()
}

/// Each file's priority, as apt's policy gives it before the specific pins.
fn file_priorities(u: &Universe, s: &Settings) -> Vec<i32> {
    // File priorities: NotSource (status) 100, ButAutomaticUpgrades 100, NotAutomatic 1, else
    // 500; then the default pins (APT::Default-Release first, then `Package: *` records in
    // order), the first that matches a file fixing it (a never pin always wins).
    let mut defaults: Vec<(&crate::prefs::Match, i32)> = Vec::new();
    let default_release_pin;
    if let Some(rel) = s.default_release {
        default_release_pin = crate::prefs::Match::Release(crate::prefs::ReleaseMatch::parse(rel));
        defaults.push((&default_release_pin, 990));
    }
    defaults.extend(
        s.pins
            .iter()
            .filter(|p| p.packages.is_none())
            .map(|p| (&p.matcher, p.priority)),
    );
    u.files
        .iter()
        .map(|f| {
            let mut prio = if f.status || f.but_automatic_upgrades {
                100
            } else if f.not_automatic {
                1
            } else {
                500
            };
            let mut fixed = false;
            for (m, p) in &defaults {
                if (!fixed || *p == NEVER) && prio != NEVER && m.file_matches(f) {
                    prio = *p;
                    fixed = true;
                }
            }
            prio
        })
        .collect()
}

/// The specific pins of `pkg`'s versions.
fn version_pins(u: &Universe, s: &Settings, pkg: &Package) -> Vec<Option<i32>> {
    // Specific pins: the first record naming the package (or a pattern matching its
    // name, or its source with src:) that matches a version pins that version.
    let mut ver_pin: Vec<Option<i32>> = vec![None; pkg.versions.len()];
    for pin in s.pins.iter() {
        let Some(names) = &pin.packages else { continue };
        for (vi, v) in pkg.versions.iter().enumerate() {
            if ver_pin[vi].is_some() || !names.iter().any(|n| pin_names(n, pkg, v, s.native_arch)) {
                continue;
            }
            let files: Vec<&FileInfo> = v.files.iter().map(|&f| &u.files[f]).collect();
            if pin.matcher.version_matches(&v.version, &files) {
                ver_pin[vi] = Some(pin.priority);
            }
        }
    }
    ver_pin
}

/// Does a name in a pin's Package field apply to this package (and this version, for src:)?
fn pin_names(name: &str, pkg: &Package, v: &Version, native: &str) -> bool {
    let (src, name) = match name.strip_prefix("src:") {
        Some(n) => (true, n),
        None => (false, name),
    };
    let (name, arch) = match name.rsplit_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (name, None),
    };
    if let Some(a) = arch {
        if a != native && a != "any" && !(a == "all" && v.arch == "all") {
            return false;
        }
    }
    let target = if src {
        v.source.as_str()
    } else {
        pkg.name.as_str()
    };
    let pattern = (name.starts_with('/') && name.ends_with('/') && name.len() > 1)
        || name.contains(['*', '[', '?']);
    if pattern {
        crate::prefs::expression_matches(name, Some(target))
    } else {
        name == target
    }
}

/// Who provides a name: (package, version, provided version), newest provide first.
type Providers<'a> = HashMap<&'a str, Vec<(usize, usize, Option<&'a str>)>>;

/// The install state: a version index per package.
struct State<'a> {
    u: &'a Universe,
    inst: Vec<usize>,
    /// name → (package, version, provided version) for every version of every package.
    providers: Providers<'a>,
}

impl<'a> State<'a> {
    fn new(u: &'a Universe) -> State<'a> {
        let mut providers: Providers = HashMap::new();
        for (pi, p) in u.packages.iter().enumerate() {
            for (vi, v) in p.versions.iter().enumerate() {
                for pr in &v.provides {
                    providers.entry(pr.name.as_str()).or_default().push((
                        pi,
                        vi,
                        pr.version.as_deref(),
                    ));
                }
            }
        }
        // apt links each new provide at the head of the provided name's list.
        for list in providers.values_mut() {
            list.sort_by_key(|&(pi, vi, _)| std::cmp::Reverse(u.packages[pi].versions[vi].created));
        }
        State {
            u,
            inst: u.packages.iter().map(|p| p.current).collect(),
            providers,
        }
    }

    fn version(&self, p: usize) -> &'a Version {
        &self.u.packages[p].versions[self.inst[p]]
    }

    fn rel_holds(rel: &Option<(Op, String)>, v: &str) -> bool {
        rel.as_ref().is_none_or(|(op, to)| op.holds(v, to))
    }

    /// A positive alternative satisfied by the install state.
    fn satisfied(&self, alt: &Alt, inst: &[usize]) -> bool {
        if let Some(&p) = self.u.index.get(&alt.name) {
            let v = &self.u.packages[p].versions[inst[p]];
            if (!alt.any || v.multi_arch_allowed) && Self::rel_holds(&alt.rel, &v.version) {
                return true;
            }
        }
        self.providers.get(alt.name.as_str()).is_some_and(|list| {
            list.iter().any(|&(q, vi, pv)| {
                inst[q] == vi
                    && match &alt.rel {
                        None => true,
                        Some((op, to)) => pv.is_some_and(|pv| op.holds(pv, to)),
                    }
            })
        })
    }

    /// A negative alternative (Conflicts, Breaks) of package `owner` violated.
    fn violated(&self, owner: usize, alt: &Alt, inst: &[usize]) -> bool {
        if let Some(&p) = self.u.index.get(&alt.name) {
            if p != owner
                && Self::rel_holds(&alt.rel, &self.u.packages[p].versions[inst[p]].version)
            {
                return true;
            }
        }
        self.providers.get(alt.name.as_str()).is_some_and(|list| {
            list.iter().any(|&(q, vi, pv)| {
                q != owner
                    && inst[q] == vi
                    && match &alt.rel {
                        None => true,
                        Some((op, to)) => pv.is_some_and(|pv| op.holds(pv, to)),
                    }
            })
        })
    }

    /// The packages whose versions could satisfy (or, negative, match) an alternative.
    fn targets(&self, owner: usize, alt: &Alt, negative: bool) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(&p) = self.u.index.get(&alt.name) {
            if !(negative && p == owner)
                && self.u.packages[p]
                    .versions
                    .iter()
                    .any(|v| Self::rel_holds(&alt.rel, &v.version))
            {
                out.push(p);
            }
        }
        if let Some(list) = self.providers.get(alt.name.as_str()) {
            for &(q, _, pv) in list {
                let ok = match &alt.rel {
                    None => true,
                    Some((op, to)) => pv.is_some_and(|pv| op.holds(pv, to)),
                };
                if ok && !(negative && q == owner) && !out.contains(&q) {
                    out.push(q);
                }
            }
        }
        out
    }

    fn inst_broken_with(&self, p: usize, inst: &[usize]) -> bool {
        let v = &self.u.packages[p].versions[inst[p]];
        v.depends
            .iter()
            .any(|g| !g.iter().any(|a| self.satisfied(a, inst)))
            || v.conflicts
                .iter()
                .chain(&v.breaks)
                .any(|a| self.violated(p, a, inst))
    }

    fn policy_broken(&self, p: usize, inst: &[usize]) -> bool {
        let v = &self.u.packages[p].versions[inst[p]];
        v.recommends
            .iter()
            .any(|g| !g.iter().any(|a| self.satisfied(a, inst)))
    }
}

/// `apt-get upgrade`: the install decision of every package.
pub fn upgrade(u: &Universe, s: &Settings, cand: &[Option<usize>]) -> Result<Vec<usize>, String> {
    let mut st = State::new(u);
    let now: Vec<usize> = st.inst.clone();
    // apt refuses to plan on a system that is already broken.
    for p in 0..u.packages.len() {
        if st.inst_broken_with(p, &now) {
            return Err(format!("{} has unmet dependencies now", u.packages[p].name));
        }
    }
    let now_policy_broken: Vec<bool> = (0..u.packages.len())
        .map(|p| s.install_recommends && st.policy_broken(p, &now))
        .collect();

    for (p, pkg) in u.packages.iter().enumerate() {
        if pkg.hold && !s.ignore_hold {
            continue;
        }
        if let Some(c) = cand[p] {
            st.inst[p] = c;
        }
    }

    let broken = |st: &State, p: usize| -> bool {
        st.inst_broken_with(p, &st.inst)
            || (s.install_recommends && !now_policy_broken[p] && st.policy_broken(p, &st.inst))
    };

    let order = score_order(u, &st, cand);
    let mut last_stop: Option<usize> = None;
    let mut k = 0;
    while k < order.len() {
        let p = order[k];
        if !broken(&st, p) {
            k += 1;
            continue;
        }
        st.inst[p] = u.packages[p].current;
        if !broken(&st, p) {
            k = 0;
            continue;
        }
        keep_back_targets(u, &mut st, p, &broken);
        if broken(&st, p) {
            k += 1;
            continue;
        }
        if last_stop == Some(k) {
            return Err(format!("keeping back loops on {}", u.packages[p].name));
        }
        last_stop = Some(k);
        k = 0;
    }
    Ok(st.inst)
}

/// Keeps back what `p`'s broken dependencies point at, alternative by alternative, until `p`
/// is no longer broken (apt's ResolveByKeep, for one package).
fn keep_back_targets(
    u: &Universe,
    st: &mut State,
    p: usize,
    broken: &dyn Fn(&State, usize) -> bool,
) {
    let v = &u.packages[p].versions[st.inst[p]];
    let groups: Vec<(Vec<Alt>, bool)> = v
        .depends
        .iter()
        .map(|g| (g.clone(), false))
        .chain(
            v.conflicts
                .iter()
                .chain(&v.breaks)
                .map(|a| (vec![a.clone()], true)),
        )
        .collect();
    for (group, negative) in groups {
        let ok = if negative {
            !st.violated(p, &group[0], &st.inst)
        } else {
            group.iter().any(|a| st.satisfied(a, &st.inst))
        };
        if ok {
            continue;
        }
        for alt in &group {
            for t in st.targets(p, alt, negative) {
                st.inst[t] = u.packages[t].current;
                if !broken(st, p) {
                    return;
                }
            }
        }
    }
}

/// The order ResolveByKeep visits packages in: apt's `MakeScores`, highest first (ties by
/// name; apt's own tie order is its hash table's), computed in its four steps.
fn score_order(u: &Universe, st: &State, cand: &[Option<usize>]) -> Vec<usize> {
    let own = own_scores(u, st, cand);
    let with_dependencies = dependency_points(u, st, own);
    let mut score = inherited(u, st, &with_dependencies);
    provider_points(u, st, &with_dependencies, &mut score);
    for (p, pkg) in u.packages.iter().enumerate() {
        if pkg.essential || pkg.important {
            score[p] += 5000;
        }
    }
    let mut order: Vec<usize> = (0..u.packages.len()).collect();
    order.sort_by(|&a, &b| {
        score[b]
            .cmp(&score[a])
            .then_with(|| u.packages[a].name.cmp(&u.packages[b].name))
    });
    order
}

/// Each package's own points: essential or important, its install version's priority (when
/// downloadable), a downloadable candidate.
fn own_scores(u: &Universe, st: &State, cand: &[Option<usize>]) -> Vec<i64> {
    let downloadable = |v: &Version| v.files.iter().any(|&f| !u.files[f].status);
    (0..u.packages.len())
        .map(|p| {
            let v = st.version(p);
            let pkg = &u.packages[p];
            let mut score = 0;
            if pkg.essential || pkg.important {
                score += 100;
            }
            score += if downloadable(v) {
                match v.priority {
                    Priority::Unknown => 0,
                    Priority::Required => 3,
                    Priority::Important => 2,
                    Priority::Standard => 1,
                    Priority::Optional => -1,
                    Priority::Extra => -2,
                }
            } else {
                -2
            };
            if cand[p].is_some_and(|c| downloadable(&pkg.versions[c])) {
                score += 1;
            }
            score
        })
        .collect()
}

/// Points along dependencies of the install versions (Depends, Pre-Depends, Recommends +1;
/// Conflicts, Breaks -1), to the target and to its providers.
fn dependency_points(u: &Universe, st: &State, score: Vec<i64>) -> Vec<i64> {
    let mut add = score;
    for p in 0..u.packages.len() {
        let v = st.version(p);
        let weighted = v
            .depends
            .iter()
            .flatten()
            .map(|a| (a, 1, false))
            .chain(v.recommends.iter().flatten().map(|a| (a, 1, false)))
            .chain(v.conflicts.iter().chain(&v.breaks).map(|a| (a, -1, true)));
        for (alt, w, negative) in weighted {
            let target = u.index.get(&alt.name).copied();
            if let Some(t) = target {
                if !(negative && t == p) {
                    if alt.rel.is_some() && !State::rel_holds(&alt.rel, &st.version(t).version) {
                        continue;
                    }
                    add[t] += w;
                }
            } else if alt.rel.is_some() {
                continue;
            }
            let mut providers: Vec<usize> = st
                .providers
                .get(alt.name.as_str())
                .map(|l| {
                    l.iter()
                        .filter(|&&(q, vi, pv)| {
                            !(negative && q == p)
                                && st.inst[q] == vi
                                && match &alt.rel {
                                    None => true,
                                    Some((op, to)) => pv.is_some_and(|pv| op.holds(pv, to)),
                                }
                        })
                        .map(|&(q, _, _)| q)
                        .collect()
                })
                .unwrap_or_default();
            providers.sort_unstable();
            providers.dedup();
            for q in providers {
                add[q] += w;
            }
        }
    }
    add
}

/// One level of inheritance from the packages that depend on (or recommend) a package.
fn inherited(u: &Universe, st: &State, old: &[i64]) -> Vec<i64> {
    let mut score = old.to_vec();
    for (p, &points) in old.iter().enumerate() {
        if points <= 0 {
            continue;
        }
        let v = st.version(p);
        for alt in v
            .depends
            .iter()
            .flatten()
            .chain(v.recommends.iter().flatten())
        {
            if let Some(&t) = u.index.get(&alt.name) {
                score[t] += points;
            }
        }
    }
    score
}

/// Providers of important packages become important: what a package inherited goes to its
/// installed providers too.
fn provider_points(u: &Universe, st: &State, old: &[i64], score: &mut [i64]) {
    let transfer: Vec<i64> = (0..u.packages.len())
        .map(|p| (score[p] - old[p]).abs())
        .collect();
    for (p, &points) in transfer.iter().enumerate() {
        if points == 0 {
            continue;
        }
        if let Some(list) = st.providers.get(u.packages[p].name.as_str()) {
            let mut qs: Vec<usize> = list
                .iter()
                .filter(|&&(q, vi, _)| st.inst[q] == vi)
                .map(|&(q, _, _)| q)
                .collect();
            qs.sort_unstable();
            qs.dedup();
            for q in qs {
                score[q] += points;
            }
        }
    }
}
