//! The elements of a JSON array as it arrives, chunk by chunk, each handed whole to a callback
//! and then forgotten: the management API's listings (10,000 queues are about 1 MB) are read
//! in memory that does not grow with them.
//!
//! Why not a crate: serde_json parses a whole document or a blocking reader, not chunks pushed
//! from an async body; streaming JSON parsers (struson, json-event-parser) would add a
//! tokenizer for what is one level of one array. Finding where each element ends takes only
//! brackets, strings and escapes; serde_json then parses each element as usual.

/// Longest element kept (a queue's object is about 150 bytes; a name at most 255).
pub const MAX_ITEM: usize = 64 << 10;

/// Splits a JSON array (`[ {...}, {...} ]`) into its elements, which must be objects or arrays.
#[derive(Default)]
pub struct ArrayItems {
    /// Bracket depth: 1 inside the array, 2 and more inside an element.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The element being read.
    item: Vec<u8>,
    /// The array's closing bracket was read.
    done: bool,
}

impl ArrayItems {
    /// Reads `chunk`, calling `each` with every element it completes.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        for &b in chunk {
            if self.depth <= 1 {
                self.between(b)?;
                continue;
            }
            self.item.push(b);
            if self.item.len() > MAX_ITEM {
                return Err(format!("an element longer than {} KiB", MAX_ITEM >> 10));
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 1 {
                        each(&self.item)?;
                        self.item.clear();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A byte outside any element: the opening bracket, separators, the closing bracket, or
    /// the start of an element.
    fn between(&mut self, b: u8) -> Result<(), String> {
        match (self.depth, self.done, b) {
            (_, _, b' ' | b'\n' | b'\r' | b'\t') => Ok(()),
            (0, false, b'[') => {
                self.depth = 1;
                Ok(())
            }
            (1, _, b',') => Ok(()),
            (1, _, b']') => {
                self.depth = 0;
                self.done = true;
                Ok(())
            }
            (1, _, b'{' | b'[') => {
                self.depth = 2;
                self.item.push(b);
                Ok(())
            }
            (0, true, _) => Err("text after the end of the JSON array".into()),
            (0, false, _) => Err("not a JSON array".into()),
            _ => Err("an element that is not a JSON object".into()),
        }
    }

    /// After the last chunk: was the array whole?
    pub fn finish(&self) -> Result<(), String> {
        if self.done {
            Ok(())
        } else {
            Err("the JSON array ends early".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, chunk: usize) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut a = ArrayItems::default();
        for c in text.as_bytes().chunks(chunk) {
            a.feed(c, &mut |item| {
                out.push(String::from_utf8(item.to_vec()).unwrap());
                Ok(())
            })?;
        }
        a.finish()?;
        Ok(out)
    }

    #[test]
    fn elements_whatever_the_chunks() {
        let text = r#" [ {"name":"a]b}","x":[1,{"y":"\"}"}]} , {"name":"q\\"} ,{}]  "#;
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                split(text, chunk).unwrap(),
                [
                    r#"{"name":"a]b}","x":[1,{"y":"\"}"}]}"#,
                    r#"{"name":"q\\"}"#,
                    "{}"
                ],
                "chunks of {chunk}"
            );
        }
        assert_eq!(split("[]", 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn what_is_not_an_array_of_objects() {
        assert_eq!(
            split(r#"{"error":"x"}"#, 4).unwrap_err(),
            "not a JSON array"
        );
        assert_eq!(
            split("[1,2]", 4).unwrap_err(),
            "an element that is not a JSON object"
        );
        assert_eq!(
            split(r#"[{"a":1}"#, 4).unwrap_err(),
            "the JSON array ends early"
        );
        assert_eq!(
            split("[] x", 4).unwrap_err(),
            "text after the end of the JSON array"
        );
        let long = format!(r#"[{{"name":"{}"}}]"#, "x".repeat(MAX_ITEM));
        assert_eq!(
            split(&long, 4096).unwrap_err(),
            "an element longer than 64 KiB"
        );
    }
}
