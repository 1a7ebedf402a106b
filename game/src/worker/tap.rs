//! A tap that sees every tick a worker runs (the test seam's; feature
//! `test-seam`): re-exported as `testing::TrafficTap`.

use std::sync::Arc;

use bevy::prelude::Resource;

use crate::manifest::ModManifest;
use crate::protocol::{Reply, TickRequest};

/// Sees every tick a worker runs: the mod's id, its manifest (with full
/// names), the tick it was sent and its reply. Set it with
/// [`ModPlugin::with_traffic_tap`](crate::ModPlugin::with_traffic_tap) to
/// record real traffic (the fuzzer's seeds are made so); it costs a copy of
/// each tick, so games leave it unset.
#[derive(Clone, Resource)]
pub struct TrafficTap(Arc<dyn Fn(&str, &ModManifest, &TickRequest, &Reply) + Send + Sync>);

impl TrafficTap {
    /// A tap that calls `see` after every tick, on the worker thread.
    pub fn new(
        see: impl Fn(&str, &ModManifest, &TickRequest, &Reply) + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(see))
    }

    pub(crate) fn record(
        &self,
        id: &str,
        manifest: &ModManifest,
        request: &TickRequest,
        reply: &Reply,
    ) {
        (self.0)(id, manifest, request, reply);
    }
}

impl std::fmt::Debug for TrafficTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrafficTap")
    }
}
