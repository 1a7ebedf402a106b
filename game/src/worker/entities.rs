//! `entities`: reads from the tick's snapshot, writes recorded as commands.

use super::state::HostState;
use crate::codec::packed;
use crate::protocol::{Column, Command, Encoding, EntityList, Layout, WireComponent, pack_bits};

mod_api_packed::wit_scalar_conversions!(crate::worker::bindings::types::Scalar);
use crate::worker::bindings::bevy_wasm::mods::entities::Host;
use crate::worker::bindings::types::{
    Batch, Column as WitColumn, ColumnEncoding, Component, Entity, ModError, PackedField,
};

use mod_rules::access::{check_column_count, check_component_list, check_names};
use mod_rules::caps::{MAX_COMPONENTS, MAX_QUERY_NAMES};

impl HostState {
    /// The index of the query whose component set is exactly `names`.
    fn named_query(&self, names: &[String]) -> Result<usize, ModError> {
        check_names(names, MAX_QUERY_NAMES)?;
        let names: Vec<String> = names.iter().map(|n| self.full_type(n.clone())).collect();
        self.tick
            .query_index(&names)
            .ok_or_else(|| ModError::NotQueried(names.join(", ")))
    }

    /// The components with their types' full names.
    fn full_components(&self, components: Vec<Component>) -> Vec<Component> {
        components
            .into_iter()
            .map(|c| Component {
                name: self.full_type(c.name),
                value: c.value,
            })
            .collect()
    }

    /// The rows of query `q` whose entities were not despawned this tick;
    /// `None` when none was.
    fn live_rows(&self, q: usize) -> Option<Vec<usize>> {
        let despawned = &self.tick.despawned;
        let entities = &self.tick.queries[q].entities.0;
        (!despawned.is_empty()).then(|| {
            (0..entities.len())
                .filter(|row| !despawned.contains(&entities[*row]))
                .collect()
        })
    }

    fn check_components(&mut self, components: &[Component]) -> Result<usize, ModError> {
        check_component_list(components.iter().map(|c| c.name.as_str()))?;
        let total: usize = components
            .iter()
            .map(|c| c.name.len() + c.value.len())
            .sum();
        self.check_room(total)?;
        let mut bytes = 0;
        for c in components {
            self.check_writable(&c.name)?;
            self.check_value(&c.name, &c.value)?;
            bytes += c.name.len() + c.value.len();
        }
        Ok(bytes)
    }

    /// Whether `entity` may be the target of a write this tick, as far as the
    /// worker can tell; the main thread checks again against the world.
    fn check_alive(&self, entity: Entity) -> Result<(), ModError> {
        if self.tick.despawned.contains(&entity) {
            return Err(ModError::NoSuchEntity(entity));
        }
        Ok(())
    }

    /// Whether the mod may change `entity`: one it spawned, or any when
    /// granted. The query rows say who spawned what; an entity in none of
    /// them is left to the main thread, which checks against the world.
    fn check_owner(&mut self, entity: Entity) -> Result<(), ModError> {
        if self.modify_any_entity || self.tick.spawned.contains(&entity) {
            return Ok(());
        }
        for q in 0..self.tick.queries.len() {
            if let Some(row) = self.tick.row(q, entity) {
                if self.tick.queries[q].owns_row(row) {
                    return Ok(());
                }
                return Err(self.deny_entity(entity));
            }
        }
        Ok(())
    }

    /// Logs a refused change to an entity the mod did not spawn (within
    /// its line budget).
    fn deny_entity(&self, entity: Entity) -> ModError {
        if self.lines.take(&self.mod_id, 80) {
            tracing::warn!(
                target: "mod",
                mod_id = &*self.mod_id,
                "denied: changing entity {entity}, which this mod did not spawn"
            );
        }
        ModError::NotOwner(entity)
    }

    /// Every row of a batch must be an entity the mod read with component
    /// `name` this tick (a batch rewrites what the mod was given), and one
    /// it may change. `same_rows` are the queries whose rows are exactly
    /// `entities`.
    fn check_rows(
        &mut self,
        name: &str,
        entities: &[Entity],
        same_rows: &[usize],
    ) -> Result<(), ModError> {
        let has_name = |q: usize| self.tick.queries[q].components.iter().any(|c| c == name);
        let with_name: Vec<usize> = (0..self.tick.queries.len())
            .filter(|q| has_name(*q))
            .collect();
        // The usual case: the rows of a query, written back in order.
        let whole = same_rows.iter().find(|q| has_name(**q));
        if let Some(&q) = whole {
            if self.modify_any_entity || self.tick.queries[q].owns_all() {
                return Ok(());
            }
        }
        for e in entities {
            let found = with_name
                .iter()
                .find_map(|q| self.tick.row(*q, *e).map(|row| (*q, row)));
            match found {
                None => {
                    return Err(ModError::InvalidValue(format!(
                        "batch row {e}: not an entity the mod's queries gave with `{name}` this tick"
                    )));
                }
                Some((q, row)) => {
                    if !self.modify_any_entity
                        && !self.tick.queries[q].owns_row(row)
                        && !self.tick.spawned.contains(e)
                    {
                        return Err(self.deny_entity(*e));
                    }
                }
            }
        }
        Ok(())
    }

    fn remember(&mut self, entity: Entity, components: &[Component]) {
        for c in components {
            self.tick
                .overlay
                .insert((entity, c.name.clone()), Some(c.value.clone()));
        }
    }
}

fn wire_components(components: Vec<Component>) -> Vec<WireComponent> {
    components
        .into_iter()
        .map(|c| WireComponent {
            name: c.name,
            value: c.value.into(),
        })
        .collect()
}

/// The writes, checked; the `Host` impl below refuses the tick when one of
/// them is refused.
impl HostState {
    fn try_spawn(&mut self, components: Vec<Component>) -> Result<Entity, ModError> {
        let bytes = self.check_components(&components)?;
        let Some(&entity) = self.tick.reserved.front() else {
            return Err(mod_rules::Refusal::out_of_ids(self.tick.at_entity_cap).into());
        };
        self.remember(entity, &components);
        self.record(
            Command::Spawn {
                entity,
                components: wire_components(components),
            },
            bytes + 8,
        )?;
        self.tick.reserved.pop_front();
        self.tick.spawned.insert(entity);
        Ok(entity)
    }

    fn try_despawn(&mut self, entity: Entity) -> Result<(), ModError> {
        self.check_alive(entity)?;
        self.check_owner(entity)?;
        self.record(Command::Despawn { entity }, 8)?;
        self.tick.despawned.insert(entity);
        Ok(())
    }

    fn try_insert(&mut self, entity: Entity, components: Vec<Component>) -> Result<(), ModError> {
        self.check_alive(entity)?;
        self.check_owner(entity)?;
        let bytes = self.check_components(&components)?;
        self.remember(entity, &components);
        self.record(
            Command::Insert {
                entity,
                components: wire_components(components),
            },
            bytes + 8,
        )
    }

    fn try_remove(&mut self, entity: Entity, names: Vec<String>) -> Result<(), ModError> {
        check_names(&names, MAX_COMPONENTS)?;
        self.check_alive(entity)?;
        self.check_owner(entity)?;
        for name in &names {
            self.check_writable(name)?;
        }
        for name in &names {
            self.tick.overlay.insert((entity, name.clone()), None);
        }
        let bytes = names.iter().map(String::len).sum::<usize>() + 8;
        self.record(Command::Remove { entity, names }, bytes)
    }

    fn try_write_batch(&mut self, batch: Batch) -> Result<(), ModError> {
        let rows = batch.entities.len();
        check_column_count(batch.columns.len(), MAX_QUERY_NAMES)?;
        let total: usize = batch.columns.iter().map(|c| c.data.len()).sum();
        self.check_room(rows.saturating_mul(8).saturating_add(total))?;
        let mut columns = Vec::with_capacity(batch.columns.len());
        let mut bytes = rows * 8;
        // A row despawned earlier in the tick is gone (no hashing of every
        // row when nothing was).
        if !self.tick.despawned.is_empty() {
            for e in &batch.entities {
                self.check_alive(*e)?;
            }
        }
        let same_rows: Vec<usize> = (0..self.tick.queries.len())
            .filter(|q| self.tick.queries[*q].entities.0 == batch.entities)
            .collect();
        for column in batch.columns {
            self.check_writable(&column.name)?;
            let catalog = self.catalog.clone();
            let Some((_, layout)) = catalog.components.get(&column.name) else {
                return Err(ModError::InvalidValue(format!(
                    "`{}` is defined by a mod; write it with `insert`",
                    column.name
                )));
            };
            self.check_rows(&column.name, &batch.entities, &same_rows)?;
            bytes += column.data.len();
            columns.push(from_wit(
                column,
                layout.as_ref(),
                rows,
                self.rules.value_depth,
            )?);
        }
        // The usual batch rewrites one query's rows as they were sent.
        let query = same_rows.into_iter().find(|q| {
            let components = &self.tick.queries[*q].components;
            columns.iter().all(|c| components.contains(&c.name))
        });
        let command = match query {
            Some(query) => Command::WriteQueryRows {
                query: query as u32,
                columns,
            },
            None => Command::WriteBatch {
                entities: EntityList(batch.entities),
                columns,
            },
        };
        self.record(command, bytes)
    }
}

impl Host for HostState {
    fn spawn(&mut self, components: Vec<Component>) -> Result<Entity, ModError> {
        let components = self.full_components(components);
        let result = self.try_spawn(components);
        self.refuse_on_error(result)
    }

    fn despawn(&mut self, entity: Entity) -> Result<(), ModError> {
        let result = self.try_despawn(entity);
        self.refuse_on_error(result)
    }

    fn insert(&mut self, entity: Entity, components: Vec<Component>) -> Result<(), ModError> {
        let components = self.full_components(components);
        let result = self.try_insert(entity, components);
        self.refuse_on_error(result)
    }

    fn remove(&mut self, entity: Entity, names: Vec<String>) -> Result<(), ModError> {
        let names = names.into_iter().map(|n| self.full_type(n)).collect();
        let result = self.try_remove(entity, names);
        self.refuse_on_error(result)
    }

    fn write_batch(&mut self, mut batch: Batch) -> Result<(), ModError> {
        for column in &mut batch.columns {
            column.name = self.full_type(std::mem::take(&mut column.name));
        }
        let result = timed!(
            "worker: write-batch, the host's part",
            self.try_write_batch(batch)
        );
        self.refuse_on_error(result)
    }

    fn get(&mut self, entity: Entity, name: String) -> Result<Option<Vec<u8>>, ModError> {
        check_names(std::slice::from_ref(&name), 1)?;
        let name = self.full_type(name);
        if let Some(value) = self.tick.overlay.get(&(entity, name.clone())) {
            return Ok(value.clone());
        }
        if self.tick.despawned.contains(&entity) {
            return Ok(None);
        }
        let mut queried = false;
        for q in 0..self.tick.queries.len() {
            let Some(col) = self.tick.queries[q]
                .columns
                .iter()
                .position(|c| c.name == name)
            else {
                continue;
            };
            queried = true;
            let Some(row) = self.tick.row(q, entity) else {
                continue;
            };
            let column = &self.tick.queries[q].columns[col];
            let bytes = column
                .row(row)
                .ok_or_else(|| ModError::Failed(format!("snapshot column `{name}` is short")))?;
            return match &column.encoding {
                Encoding::MsgPack => Ok(Some(bytes.to_vec())),
                Encoding::Packed(layout) => packed::record_to_msgpack(layout, bytes)
                    .map(Some)
                    .ok_or_else(|| ModError::Failed(format!("cannot re-encode `{name}`"))),
            };
        }
        if queried {
            Ok(None)
        } else {
            Err(ModError::NotQueried(name))
        }
    }

    fn query(&mut self, names: Vec<String>) -> Result<Vec<Entity>, ModError> {
        let q = self.named_query(&names)?;
        let despawned = &self.tick.despawned;
        Ok(self.tick.queries[q]
            .entities
            .0
            .iter()
            .copied()
            .filter(|e| !despawned.contains(e))
            .collect())
    }

    fn writable_rows(&mut self, names: Vec<String>) -> Result<Vec<u8>, ModError> {
        let q = self.named_query(&names)?;
        let query = &self.tick.queries[q];
        // The rows `query-batch` gives.
        let writable: Vec<bool> = match self.live_rows(q) {
            Some(rows) => rows
                .into_iter()
                .map(|row| self.modify_any_entity || query.owns_row(row))
                .collect(),
            None => (0..query.entities.0.len())
                .map(|row| self.modify_any_entity || query.owns_row(row))
                .collect(),
        };
        Ok(pack_bits(&writable))
    }

    fn query_batch(&mut self, names: Vec<String>) -> Result<Batch, ModError> {
        timed!("worker: query-batch, the host's part", self.batch_of(names))
    }
}

impl HostState {
    /// `query-batch`: the rows of the query whose components are `names`,
    /// each column by the name the mod asked for it by.
    fn batch_of(&mut self, names: Vec<String>) -> Result<Batch, ModError> {
        let q = self.named_query(&names)?;
        // Like `query`, the rows leave out entities despawned earlier in
        // the tick (then a batch written back names its rows by id).
        let kept = self.live_rows(q);
        let query = &self.tick.queries[q];
        let mut columns = Vec::with_capacity(names.len());
        for spelled in names {
            let name = self.full_type(spelled.clone());
            let Some(column) = query.columns.iter().find(|c| c.name == name) else {
                return Err(ModError::NotQueried(name));
            };
            let mut column = match &kept {
                Some(rows) => to_wit(&column.only_rows(rows)),
                None => to_wit(column),
            };
            // The columns go by the names the mod asked for them by.
            column.name = spelled;
            columns.push(column);
        }
        let entities = match &kept {
            Some(rows) => rows.iter().map(|row| query.entities.0[*row]).collect(),
            None => query.entities.0.clone(),
        };
        Ok(Batch { entities, columns })
    }
}

/// A snapshot column as the guest sees it.
pub(crate) fn to_wit(column: &Column) -> WitColumn {
    match &column.encoding {
        Encoding::Packed(layout) => WitColumn {
            name: column.name.clone(),
            encoding: ColumnEncoding::Packed(
                layout
                    .fields()
                    .iter()
                    .map(|(path, kind)| PackedField {
                        path: path.clone(),
                        kind: scalar_to_wit(*kind),
                    })
                    .collect(),
            ),
            data: column.data.to_vec(),
        },
        Encoding::MsgPack => {
            let mut data = Vec::with_capacity(column.data.len() + 5);
            // Writing into a Vec cannot fail.
            let _ = rmp::encode::write_array_len(&mut data, column.offsets.len() as u32);
            data.extend_from_slice(&column.data);
            WitColumn {
                name: column.name.clone(),
                encoding: ColumnEncoding::Msgpack,
                data,
            }
        }
    }
}

/// Checks a column a guest wrote and turns it into its wire form.
fn from_wit(
    column: WitColumn,
    layout: Option<&Layout>,
    rows: usize,
    depth: usize,
) -> Result<Column, ModError> {
    let name = column.name;
    let bad = |why: String| ModError::InvalidValue(format!("column `{name}`: {why}"));
    match column.encoding {
        ColumnEncoding::Packed(fields) => {
            let fields = Layout::new(
                fields
                    .into_iter()
                    .map(|f| (f.path, scalar_from_wit(f.kind)))
                    .collect(),
            );
            if Some(&fields) != layout {
                return Err(bad(
                    "packed layout differs from the one query-batch gave".into()
                ));
            }
            let stride = fields.stride();
            if column.data.len() != stride * rows {
                return Err(bad(format!(
                    "{} bytes for {rows} rows of {stride} bytes",
                    column.data.len()
                )));
            }
            mod_api_packed::validate_column(&column.data, fields.kinds())
                .map_err(|e| bad(e.to_string()))?;
            Ok(Column {
                name,
                encoding: Encoding::Packed(fields),
                data: column.data.into(),
                offsets: Vec::new(),
            })
        }
        ColumnEncoding::Msgpack => {
            let (offsets, body) =
                mod_rules::value::split_array(&column.data, rows, depth).map_err(bad)?;
            Ok(Column {
                name,
                encoding: Encoding::MsgPack,
                data: column.data[body..].to_vec().into(),
                offsets,
            })
        }
    }
}

#[cfg(feature = "test-seam")]
impl HostState {
    /// Makes the guest call that produces `command`: what the test seam and
    /// the fuzzer check a recorded or mutated command with. A new kind of
    /// command adds its call here, beside its import.
    pub(crate) fn replay(&mut self, command: Command) -> Result<(), ModError> {
        use crate::worker::bindings::bevy_wasm::mods::events::Host as _;
        let state = self;
        let components = |list: Vec<WireComponent>| {
            list.into_iter()
                .map(|c| Component {
                    name: c.name,
                    value: c.value.into_vec(),
                })
                .collect::<Vec<_>>()
        };
        match command {
            Command::Spawn { components: c, .. } => state.spawn(components(c)).map(drop),
            Command::Despawn { entity } => state.despawn(entity),
            Command::Insert {
                entity,
                components: c,
            } => state.insert(entity, components(c)),
            Command::Remove { entity, names } => state.remove(entity, names),
            Command::Emit { name, payload } => state.emit(name, payload.into_vec()),
            Command::WriteBatch { entities, columns } => state.write_batch(Batch {
                entities: entities.0,
                columns: columns.iter().map(to_wit).collect(),
            }),
            // The same call, with the rows the query was sent (a query the tick
            // lacks gives no rows, which the worker refuses).
            Command::WriteQueryRows { query, columns } => {
                let entities = state
                    .tick
                    .queries
                    .get(query as usize)
                    .map(|q| q.entities.0.clone())
                    .unwrap_or_default();
                state.write_batch(Batch {
                    entities,
                    columns: columns.iter().map(to_wit).collect(),
                })
            }
            // The worker names the culprit; a replayed report names a type.
            Command::Reject { about, reason, .. } => {
                use crate::worker::bindings::bevy_wasm::mods::events::{BadInput, Host as _};
                state.reject(BadInput::Value(about), reason);
                Ok(())
            }
            Command::RejectValue {
                entity,
                name,
                reason,
            } => {
                state.reject_value(entity, name, reason);
                Ok(())
            }
        }
    }
}
