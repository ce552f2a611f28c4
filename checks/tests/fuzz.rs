//! Property-based tests of the entry points that read user input: the argument parser, the
//! trace loader, and replay and render of a trace file someone edited. On any input they
//! return a value or an error; none panics.

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use rcopy_checks::render::Format;
use rcopy_checks::trace::Trace;
use rcopy_checks::{cli, registry};
use serde_json::Value;

/// Words the parser knows, and some it does not, so that random command lines get deep.
const WORDS: &[&str] = &[
    "check",
    "trace",
    "list",
    "render",
    "replay",
    "explore",
    "bench",
    "ordering",
    "journal",
    "--config",
    "tiny",
    "standard",
    "x.toml",
    "--set",
    "writes=4",
    "=",
    "--variant",
    "faithful",
    "--fault",
    "B1",
    "none",
    "--mode",
    "default",
    "--tier",
    "--engine",
    "stateright",
    "--strategy",
    "simulation",
    "--seed",
    "--threads",
    "0",
    "-1",
    "18446744073709551616",
    "--timeout",
    "--max-states",
    "--max-depth",
    "--max-memory",
    "--json",
    "--traces",
    "-q",
    "-v",
    "--property",
    "S1",
    "--format",
    "dot",
    "-o",
    "--port",
    "70000",
    "--cap",
    "--runs",
    "--help",
    "-",
];

#[derive(Clone, Debug)]
struct Args(Vec<String>);

impl Arbitrary for Args {
    fn arbitrary(g: &mut Gen) -> Args {
        let n = usize::arbitrary(g) % 8;
        let words = (0..n)
            .map(|_| if bool::arbitrary(g) { g.choose(WORDS).unwrap().to_string() } else { String::arbitrary(g) })
            .collect();
        Args(words)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Args>> {
        Box::new(self.0.shrink().map(Args))
    }
}

#[test]
fn the_parser_never_panics() {
    fn prop(a: Args) -> bool {
        let mut argv = vec!["rcopy-check".to_string()];
        argv.extend(a.0);
        let _ = cli::parse(&argv);
        true
    }
    QuickCheck::new().tests(2000).quickcheck(prop as fn(Args) -> bool);
}

#[test]
fn the_trace_loader_never_panics() {
    fn prop(text: String) -> bool {
        let _ = Trace::from_json("arbitrary.json", &text);
        let _ = Trace::from_json("arbitrary.json", &format!("---\nsource: x\n---\n{text}"));
        let _ = Trace::from_json("arbitrary.json", &format!("{{\"format_version\": 2, {text}}}"));
        true
    }
    QuickCheck::new().tests(2000).quickcheck(prop as fn(String) -> bool);
}

fn sample() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/ordering/B6.json.snap");
    let t = Trace::read(path).expect("the stored B6 trace reads");
    serde_json::to_value(t).unwrap()
}

/// Every place in a JSON value, as a list of keys and indices.
fn places(v: &Value, at: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            m.iter().for_each(|(k, x)| places(x, [at.clone(), vec![Value::from(k.clone())]].concat(), out))
        }
        Value::Array(a) => {
            a.iter().enumerate().for_each(|(i, x)| places(x, [at.clone(), vec![Value::from(i)]].concat(), out))
        }
        _ => {}
    }
}

/// The value at `path`, if an earlier edit left it there.
fn get_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let pointer: String = path
        .iter()
        .map(|k| match k {
            Value::String(s) => format!("/{}", s.replace('~', "~0").replace('/', "~1")),
            k => format!("/{k}"),
        })
        .collect();
    v.pointer_mut(&pointer)
}

fn arbitrary_json(g: &mut Gen) -> Value {
    match u8::arbitrary(g) % 8 {
        0 => Value::Null,
        1 => Value::from(bool::arbitrary(g)),
        2 => Value::from(u64::arbitrary(g) % 70),
        3 => Value::from(i64::arbitrary(g)),
        4 => Value::from(String::arbitrary(g)),
        5 => Value::from(u64::MAX),
        6 => serde_json::json!([]),
        _ => serde_json::json!({}),
    }
}

#[derive(Clone, Debug)]
struct Edits(Vec<(usize, u64)>);

impl Arbitrary for Edits {
    fn arbitrary(g: &mut Gen) -> Edits {
        Edits((0..1 + usize::arbitrary(g) % 3).map(|_| (usize::arbitrary(g), u64::arbitrary(g))).collect())
    }
}

/// The stored trace and every place in it.
fn base() -> &'static (Value, Vec<Vec<Value>>) {
    static BASE: std::sync::OnceLock<(Value, Vec<Vec<Value>>)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let v = sample();
        let mut all = Vec::new();
        places(&v, Vec::new(), &mut all);
        (v, all)
    })
}

/// A stored trace with a few of its values replaced by arbitrary ones: replay and every
/// renderer answer with a result or an error, and never panic (not even one the guard would
/// have caught).
#[test]
fn an_edited_trace_never_panics_replay_or_render() {
    fn prop(edits: Edits) -> TestResult {
        let (base, all) = base();
        let mut v = base.clone();
        let mut g = Gen::new(8);
        for (at, _) in &edits.0 {
            if let Some(x) = get_mut(&mut v, &all[at % all.len()]) {
                *x = arbitrary_json(&mut g);
            }
        }
        let Ok(t) = Trace::from_json("edited.json", &v.to_string()) else { return TestResult::discard() };
        let p = registry::find("ordering").unwrap();
        let mut results = vec![p.replay_on_model(&t).map(|_| ()), p.replay_on_roles(&t).map(|_| ())];
        for f in Format::NAMES {
            results.push(p.render(&t, Format::from_name(f).unwrap()).map(|_| ()));
        }
        // The guard turns a panic into an error; none may happen: the code is total.
        if let Some(e) = results.into_iter().filter_map(Result::err).find(|e| e.contains("panicked")) {
            eprintln!("{e}");
            return TestResult::failed();
        }
        TestResult::passed()
    }
    QuickCheck::new().tests(1000).max_tests(20000).quickcheck(prop as fn(Edits) -> TestResult);
}
