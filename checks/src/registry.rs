//! The engine's view of the registered protocols: [`Registered`], an object-safe face of any
//! [`Protocol`], so that the CLI and the tests can hold every protocol in one list
//! ([`crate::protocols::all`]) and look them up by name.

use crate::config::{self, ConfigRecord};
use crate::error::Error;
use crate::render::{self, Format};
use crate::replay::{self, Replayed};
use crate::runner::{self, Options, Outcome};
use crate::trace::Trace;
use rcopy_model::protocol::{Check, Fairness, FaultInfo, Field, Gap, Kind, NamedConfig, PropertyInfo, Protocol, Tier};
use stateright::Model;

/// A protocol, with its types hidden: what the engine asks of it.
pub trait Registered: Send + Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn configs(&self) -> &'static [NamedConfig];
    fn config_fields(&self) -> &'static [Field];
    fn variants(&self) -> &'static [&'static str];
    fn modes(&self) -> &'static [(&'static str, &'static str)];
    fn faults(&self) -> Vec<FaultInfo>;
    fn properties(&self) -> Vec<PropertyInfo>;
    fn checks(&self, tier: Tier) -> Vec<Check>;
    fn gaps(&self) -> Vec<Gap>;
    fn bench(&self) -> Vec<Check>;
    fn action_classes(&self) -> &'static [&'static str];
    /// The fairness classes of the model a check explores.
    fn fair_classes(&self, check: &Check) -> Result<Vec<(String, Fairness)>, Error>;
    fn has_symmetry(&self) -> bool;
    /// A config's values (after `sets`), as a trace would record them.
    fn config_record(&self, config: &str, sets: &[String]) -> Result<ConfigRecord, Error>;
    /// The properties of the model a check explores, obligations included, checking on the way
    /// that the check's config, variant, faults and mode make a model.
    fn check_properties(&self, check: &Check) -> Result<Vec<(&'static str, Kind)>, Error>;
    fn run(&self, check: &Check, opts: &Options) -> Result<Outcome, Error>;
    fn replay_on_model(&self, trace: &Trace) -> Result<Replayed, String>;
    fn replay_on_roles(&self, trace: &Trace) -> Result<usize, String>;
    fn render(&self, trace: &Trace, format: Format) -> Result<String, String>;
    /// Serve stateright's Explorer for the check's model on `addr` (blocks); `ready` is called
    /// once the port is known to be free.
    fn serve(&self, check: &Check, addr: &str, ready: &dyn Fn()) -> Result<(), Error>;
}

impl<P: Protocol> Registered for P {
    fn name(&self) -> &'static str {
        Protocol::name(self)
    }
    fn about(&self) -> &'static str {
        Protocol::about(self)
    }
    fn configs(&self) -> &'static [NamedConfig] {
        Protocol::configs(self)
    }
    fn config_fields(&self) -> &'static [Field] {
        Protocol::config_fields(self)
    }
    fn variants(&self) -> &'static [&'static str] {
        Protocol::variants(self)
    }
    fn modes(&self) -> &'static [(&'static str, &'static str)] {
        Protocol::modes(self)
    }
    fn faults(&self) -> Vec<FaultInfo> {
        Protocol::faults(self)
    }
    fn properties(&self) -> Vec<PropertyInfo> {
        Protocol::properties(self)
    }
    fn checks(&self, tier: Tier) -> Vec<Check> {
        Protocol::checks(self, tier)
    }
    fn gaps(&self) -> Vec<Gap> {
        Protocol::gaps(self)
    }
    fn bench(&self) -> Vec<Check> {
        Protocol::bench(self)
    }
    fn action_classes(&self) -> &'static [&'static str] {
        Protocol::action_classes(self)
    }
    fn fair_classes(&self, check: &Check) -> Result<Vec<(String, Fairness)>, Error> {
        let (model, _) = runner::model_of(self, check)?;
        Ok(Protocol::fair_classes(self, &model))
    }
    fn has_symmetry(&self) -> bool {
        Protocol::has_symmetry(self)
    }
    fn config_record(&self, config: &str, sets: &[String]) -> Result<ConfigRecord, Error> {
        let loaded = config::load::<P::Config>(
            Protocol::name(self),
            Protocol::configs(self),
            Protocol::config_fields(self),
            config,
            sets,
        )?;
        Ok(loaded.record)
    }
    fn check_properties(&self, check: &Check) -> Result<Vec<(&'static str, Kind)>, Error> {
        let (model, _) = runner::model_of(self, check)?;
        let mut v: Vec<(&'static str, Kind)> =
            model.properties().iter().map(|p| (p.name, Kind::of(&p.expectation))).collect();
        v.extend(Protocol::obligations(self, &model).iter().map(|o| (o.name, Kind::Liveness)));
        Ok(v)
    }
    fn run(&self, check: &Check, opts: &Options) -> Result<Outcome, Error> {
        runner::run(self, check, opts)
    }
    fn replay_on_model(&self, trace: &Trace) -> Result<Replayed, String> {
        replay::on_model(self, trace)
    }
    fn replay_on_roles(&self, trace: &Trace) -> Result<usize, String> {
        replay::on_roles(self, trace)
    }
    fn render(&self, trace: &Trace, format: Format) -> Result<String, String> {
        render::render(self, trace, format)
    }
    fn serve(&self, check: &Check, addr: &str, ready: &dyn Fn()) -> Result<(), Error> {
        let (model, _) = runner::model_of(self, check)?;
        // stateright's server panics on a port it cannot bind: try it first.
        drop(std::net::TcpListener::bind(addr).map_err(|source| Error::Serve { addr: addr.into(), source })?);
        ready();
        model.checker().serve(addr);
        Ok(())
    }
}

/// The registered protocol called `name`.
pub fn find(name: &str) -> Result<&'static dyn Registered, Error> {
    let all = crate::protocols::all();
    all.iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| Error::UnknownProtocol(name.into(), crate::summary::names(all.iter().map(|p| p.name()))))
}

/// Every registered check of every protocol at a tier.
pub fn all(tier: Tier) -> Vec<Check> {
    crate::protocols::all().iter().flat_map(|p| p.checks(tier)).collect()
}
