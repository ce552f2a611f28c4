//! Configs as data: a protocol's named configs are TOML text that ships with it; a user's
//! file works the same way; `--set key=value` overrides one field. Every error names the
//! source (file or `--set`), the key, the line where there is one, and the valid choices.

use crate::error::Error;
use rcopy_model::protocol::{config_label, Field, NamedConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A config as a trace records it: where it came from, and every value, so that the trace
/// replays even after the named config changes.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// The named config, or the file's stem.
    pub name: String,
    /// The `--set` overrides applied, in order.
    #[serde(default)]
    pub sets: Vec<String>,
    /// Every field, as the protocol's config serialises.
    pub values: serde_json::Value,
}

/// A config read and checked against the protocol's config type.
pub struct Loaded<C> {
    pub config: C,
    pub record: ConfigRecord,
}

fn valid_keys(fields: &[Field]) -> String {
    fields.iter().map(|f| f.key).collect::<Vec<_>>().join(", ")
}

/// The text of a config argument: a named config of the protocol, or a file.
fn text_of(protocol: &str, named: &[NamedConfig], arg: &str) -> Result<(String, String), Error> {
    if let Some(c) = named.iter().find(|c| c.name == arg) {
        return Ok((format!("config `{arg}` of {protocol}"), c.toml.to_string()));
    }
    let looks_like_file = arg.ends_with(".toml") || arg.contains('/') || std::path::Path::new(arg).is_file();
    if !looks_like_file {
        let names: Vec<&str> = named.iter().map(|c| c.name).collect();
        return Err(Error::UnknownConfig(arg.into(), protocol.into(), names.join(", ")));
    }
    let text = crate::input::read_text(arg, MAX_CONFIG_BYTES, "a config file")?;
    Ok((arg.to_string(), text))
}

/// The value of a `--set`: TOML (`4`, `true`, `[1, 2]`, `"x"`), or else a bare word as a
/// string (`--set scope=per-pair`).
fn set_value(key: &str, value: &str) -> Result<toml::Value, Error> {
    let parse = |v: &str| toml::from_str::<toml::Table>(&format!("v = {v}")).ok().and_then(|mut t| t.remove("v"));
    if let Some(v) = parse(value) {
        return Ok(v);
    }
    let bare =
        !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if bare {
        return Ok(toml::Value::String(value.into()));
    }
    Err(Error::BadConfig {
        origin: format!("--set {key}={value}"),
        message: "the value is not TOML (e.g. 4, true, [[0, 0], [1, 0]], \"text\")".into(),
    })
}

/// Read config `arg` (a name or a file) of `protocol`, apply `sets`, and deserialize it.
pub fn load<C: DeserializeOwned + Serialize>(
    protocol: &str,
    named: &[NamedConfig],
    fields: &[Field],
    arg: &str,
    sets: &[String],
) -> Result<Loaded<C>, Error> {
    let (source, text) = text_of(protocol, named, arg)?;
    // Parsing the text itself first gives errors with their line and column.
    let config: C =
        toml::from_str(&text).map_err(|e| Error::BadConfig { origin: source.clone(), message: e.to_string() })?;
    let config = if sets.is_empty() {
        config
    } else {
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| Error::BadConfig { origin: source.clone(), message: e.to_string() })?;
        let mut what = Vec::new();
        for s in sets {
            let (key, value) = s.split_once('=').ok_or_else(|| Error::BadConfig {
                origin: format!("--set {s}"),
                message: "expected key=value".into(),
            })?;
            let key = key.trim();
            if !fields.iter().any(|f| f.key == key) {
                return Err(Error::BadConfig {
                    origin: format!("--set {s}"),
                    message: format!("unknown key `{key}` (valid: {})", valid_keys(fields)),
                });
            }
            table.insert(key.to_string(), set_value(key, value.trim())?);
            what.push(format!("--set {s}"));
        }
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| Error::BadConfig {
            origin: format!("{source} with {}", what.join(" ")),
            message: e.to_string().trim_end().to_string(),
        })?
    };
    let values =
        serde_json::to_value(&config).map_err(|e| Error::BadConfig { origin: source, message: e.to_string() })?;
    Ok(Loaded { config, record: ConfigRecord { name: config_label(arg), sets: sets.to_vec(), values } })
}

/// A config as a trace recorded it.
pub fn from_record<C: DeserializeOwned>(record: &ConfigRecord) -> Result<C, String> {
    serde_json::from_value(record.values.clone()).map_err(|e| format!("config `{}`: {e}", record.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct C {
        writes: u8,
        #[serde(default)]
        name: String,
        pairs: Vec<(u8, u8)>,
    }

    const NAMED: &[NamedConfig] = &[NamedConfig { name: "small", toml: "writes = 2\npairs = [[0, 1]]\n" }];
    const FIELDS: &[Field] =
        &[Field { key: "writes", about: "" }, Field { key: "name", about: "" }, Field { key: "pairs", about: "" }];

    fn load_c(arg: &str, sets: &[&str]) -> Result<C, Error> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        load::<C>("p", NAMED, FIELDS, arg, &sets).map(|l| l.config)
    }

    fn message(e: Error) -> String {
        let code = e.exit_code();
        assert_eq!(code, 2, "bad config input exits 2: {e}");
        e.to_string()
    }

    #[test]
    fn named_and_overridden() {
        assert_eq!(load_c("small", &[]).unwrap(), C { writes: 2, name: String::new(), pairs: vec![(0, 1)] });
        let c = load_c("small", &["writes=4", "pairs=[[1, 2], [3, 4]]", "name=abc"]).unwrap();
        assert_eq!(c, C { writes: 4, name: "abc".into(), pairs: vec![(1, 2), (3, 4)] });
    }

    #[test]
    fn errors_name_the_key_and_the_choices() {
        let e = message(load_c("big", &[]).err().unwrap());
        assert!(e.contains("unknown config `big`") && e.contains("small"), "{e}");
        let e = message(load_c("small", &["wrtes=4"]).err().unwrap());
        assert!(e.contains("unknown key `wrtes`") && e.contains("writes, name, pairs"), "{e}");
        let e = message(load_c("small", &["writes=lots"]).err().unwrap());
        assert!(e.contains("writes") && e.contains("--set writes=lots"), "{e}");
        let e = message(load_c("small", &["writes"]).err().unwrap());
        assert!(e.contains("key=value"), "{e}");
        let e = message(load_c("small", &["writes=300"]).err().unwrap());
        assert!(e.contains("writes"), "{e}");
    }

    #[test]
    fn a_bad_file_gives_its_line() {
        let dir = std::env::temp_dir().join(format!("rcopy-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "writes = 2\npairs = [[0, 1]]\nwrtes = 3\n").unwrap();
        let e = message(load_c(f.to_str().unwrap(), &[]).err().unwrap());
        assert!(e.contains("line 3") && e.contains("wrtes") && e.contains("writes"), "{e}");
        std::fs::write(&f, "writes = \n").unwrap();
        let e = message(load_c(f.to_str().unwrap(), &[]).err().unwrap());
        assert!(e.contains("line 1"), "{e}");
        let e = message(load_c(dir.join("missing.toml").to_str().unwrap(), &[]).err().unwrap());
        assert!(e.contains("cannot read"), "{e}");
    }
}
