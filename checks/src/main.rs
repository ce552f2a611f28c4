use rcopy_checks::registry::{self, Tier};
use rcopy_checks::runner::{run, Options};
fn main() {
    let tier = Tier::from_name(&std::env::args().nth(1).unwrap_or("tiny".into())).unwrap();
    let filter = std::env::args().nth(2).unwrap_or_default();
    for c in registry::all(tier) {
        if !c.name().contains(&filter) { continue; }
        let o = run(&c, &Options { progress: true, ..Options::default() });
        println!("{:50} {:>9} {:>3} {:>7.2}s {}", c.name(), o.unique, o.depth, o.elapsed.as_secs_f64(), if o.as_expected() {"ok".to_string()} else {format!("{:?}", o.mismatches())});
        for (n, v) in &o.verdicts { if c.expect.is_empty() || true { print!("{}={} ", &n[..3.min(n.len())], v.name()); } }
        println!();
        if std::env::var("DUMP").is_ok() { dump(&o, "L1 every write destaged"); }
    }
}
#[allow(dead_code)]
fn dump(o: &rcopy_checks::runner::Outcome, p: &str) {
    if let Some(t) = o.trace(p) { for s in &t.steps { println!("  {}", s.label); } }
}
