//! A small mutation fuzzer for `make test`: no coverage feedback (that is libFuzzer's job in
//! `make fuzz`), but seeds, splices and the bytes that break parsers (`|`, newlines, quotes,
//! `=`, `:`, ANSI escapes, invalid UTF-8, long runs, numbers at their limits), reproducible
//! from a seed.

/// A number from the environment variable `name`, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seed from the environment variable `name` (to repeat a run), else from the clock.
pub fn seed(name: &str) -> u64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    env_or(name, clock)
}

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Fragments that have broken parsers (or should not).
const TOKENS: &[&[u8]] = &[
    b"|",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"'",
    b"\"",
    b"''",
    b"=",
    b":",
    b";",
    b",",
    b" ",
    b"\t",
    b"\0",
    b"\x1b[31m",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"~",
    b"@",
    b"-",
    b"+",
    b"inf",
    b"NaN",
    b"1e308",
    b"-1",
    b"0",
    b"18446744073709551616",
    b"9223372036854775808",
    b"0.000001",
    b"%",
    b"MiB",
    b"ms",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\\",
    b"\\:",
    b"#",
    b"[api]",
    b"Package: ",
    b"Version: ",
    b"Inst ",
    b"null",
    b"true",
    b"{\"result\":\"success\"",
    b"\"events\":[",
    b"\"name\":",
    b"\"messages\":",
    b"Pin-Priority: ",
    b"1:",
    b"~rc",
    b"U",
    b"min",
    b"GB",
];

/// One mutation of `input`, maybe spliced with `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(9) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next_u64() as u8;
            }
            2 if !v.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 | 4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(64)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            6 if !v.is_empty() => {
                // Repeat a slice: long lines, deep nesting.
                let from = rng.below(v.len());
                let end = (from + 1 + rng.below(16)).min(v.len());
                let piece = v[from..end].to_vec();
                for _ in 0..rng.below(64) {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            7 => {
                let n = rng.next_u64() as i64 >> rng.below(64);
                v.splice(at..at, n.to_string().into_bytes());
            }
            _ => {
                let b = rng.next_u64() as u8;
                v.insert(at, b);
            }
        }
    }
    v.truncate(64 << 10);
    v
}
