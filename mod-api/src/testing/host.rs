//! The host functions the crate calls natively, against the running
//! [`TestWorld`].

/// `entities`.
pub(crate) mod entities {
    use super::super::*;

    fn components(list: &[WitComponent]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect()
    }

    /// The components with their types' full names.
    fn full(s: &Session, list: &[WitComponent]) -> Vec<WitComponent> {
        list.iter()
            .map(|c| WitComponent {
                name: s.full_type(&c.name),
                value: c.value.clone(),
            })
            .collect()
    }

    pub(crate) fn spawn(list: &[WitComponent]) -> Result<u64, ModError> {
        with_session(|s| {
            let list = &full(s, list);
            let result = (|| {
                let bytes = s.check_components(list)?;
                let Some(&entity) = s.reserved.front() else {
                    return Err(Refusal::out_of_ids(s.at_entity_cap).into());
                };
                s.record(Command::Spawn(entity, components(list)), bytes + 8)?;
                s.remember(entity, list);
                s.reserved.pop_front();
                s.spawned.insert(entity);
                Ok(entity)
            })();
            s.refuse_on_error(result)
        })
    }

    pub(crate) fn despawn(entity: u64) -> Result<(), ModError> {
        with_session(|s| {
            let result = (|| {
                s.check_alive(entity)?;
                s.check_owner(entity)?;
                s.record(Command::Despawn(entity), 8)?;
                s.despawned.insert(entity);
                Ok(())
            })();
            s.refuse_on_error(result)
        })
    }

    pub(crate) fn insert(entity: u64, list: &[WitComponent]) -> Result<(), ModError> {
        with_session(|s| {
            let list = &full(s, list);
            let result = (|| {
                s.check_alive(entity)?;
                s.check_owner(entity)?;
                let bytes = s.check_components(list)?;
                s.record(Command::Insert(entity, components(list)), bytes + 8)?;
                s.remember(entity, list);
                Ok(())
            })();
            s.refuse_on_error(result)
        })
    }

    pub(crate) fn remove(entity: u64, names: &[String]) -> Result<(), ModError> {
        with_session(|s| {
            let names = &s.full_types(names);
            let result = (|| {
                mod_rules::access::check_names(names, MAX_COMPONENTS)?;
                s.check_alive(entity)?;
                s.check_owner(entity)?;
                for name in names {
                    s.check_writable(name)?;
                }
                let bytes = names.iter().map(String::len).sum::<usize>() + 8;
                s.record(Command::Remove(entity, names.to_vec()), bytes)?;
                for name in names {
                    s.overlay.insert((entity, name.clone()), None);
                }
                Ok(())
            })();
            s.refuse_on_error(result)
        })
    }

    pub(crate) fn get(entity: u64, name: &str) -> Result<Option<Vec<u8>>, ModError> {
        with_session(|s| {
            mod_rules::access::check_names(std::slice::from_ref(&name.to_string()), 1)?;
            let name = &*s.full_type(name);
            if let Some(value) = s.overlay.get(&(entity, name.to_string())) {
                return Ok(value.clone());
            }
            if s.despawned.contains(&entity) {
                return Ok(None);
            }
            let mut queried = false;
            for q in &s.queries {
                let Some(col) = q.names.iter().position(|n| n == name) else {
                    continue;
                };
                queried = true;
                if let Some(row) = q.entities.iter().position(|e| *e == entity) {
                    return Ok(Some(q.values[col][row].clone()));
                }
            }
            if queried {
                Ok(None)
            } else {
                Err(ModError::NotQueried(name.to_string()))
            }
        })
    }

    pub(crate) fn query(names: &[String]) -> Result<Vec<u64>, ModError> {
        with_session(|s| {
            let names = &s.full_types(names);
            let q = s.query_index(names)?;
            Ok(s.live_rows(q)
                .into_iter()
                .map(|row| s.queries[q].entities[row])
                .collect())
        })
    }

    pub(crate) fn query_batch(spelled: &[String]) -> Result<Batch, ModError> {
        with_session(|s| {
            let names = &s.full_types(spelled);
            let q = s.query_index(names)?;
            let rows = s.live_rows(q);
            let query = &s.queries[q];
            let mut columns = Vec::with_capacity(names.len());
            for (col, (name, spelled)) in names.iter().zip(spelled).enumerate() {
                let values: Vec<&[u8]> = rows
                    .iter()
                    .map(|r| query.values[col][*r].as_slice())
                    .collect();
                let codec = s.world.game_types.get(name).and_then(|t| t.packed.as_ref());
                columns.push(match codec {
                    Some(codec) => Column {
                        name: spelled.clone(),
                        encoding: ColumnEncoding::Packed(codec.fields.clone()),
                        data: (codec.pack)(&values)
                            .map_err(|e| ModError::Failed(format!("packing `{name}`: {e}")))?,
                    },
                    None => {
                        let mut data = Vec::new();
                        let _ = rmp::encode::write_array_len(&mut data, values.len() as u32);
                        for v in values {
                            data.extend_from_slice(v);
                        }
                        Column {
                            name: spelled.clone(),
                            encoding: ColumnEncoding::Msgpack,
                            data,
                        }
                    }
                });
            }
            Ok(Batch {
                entities: rows.iter().map(|r| query.entities[*r]).collect(),
                columns,
            })
        })
    }

    pub(crate) fn writable_rows(names: &[String]) -> Result<Vec<u8>, ModError> {
        with_session(|s| {
            let names = &s.full_types(names);
            let q = s.query_index(names)?;
            let rows = s.live_rows(q);
            let mut bits = vec![0u8; rows.len().div_ceil(8)];
            for (i, row) in rows.into_iter().enumerate() {
                if s.world.modify_any || s.queries[q].owned[row] {
                    bits[i / 8] |= 1 << (i % 8);
                }
            }
            Ok(bits)
        })
    }

    pub(crate) fn write_batch(batch: &Batch) -> Result<(), ModError> {
        with_session(|s| {
            let batch = &Batch {
                entities: batch.entities.clone(),
                columns: batch
                    .columns
                    .iter()
                    .map(|c| Column {
                        name: s.full_type(&c.name),
                        encoding: c.encoding.clone(),
                        data: c.data.clone(),
                    })
                    .collect(),
            };
            let result = (|| {
                let rows = batch.entities.len();
                mod_rules::access::check_column_count(batch.columns.len(), MAX_QUERY_NAMES)?;
                let total: usize = batch.columns.iter().map(|c| c.data.len()).sum();
                s.check_room(rows.saturating_mul(8).saturating_add(total))?;
                // A row despawned this tick is gone; one the tick never
                // gave is refused with each column below.
                if let Some(e) = batch.entities.iter().find(|e| s.despawned.contains(e)) {
                    return Err(ModError::NoSuchEntity(*e));
                }
                let mut commands = Vec::new();
                for column in &batch.columns {
                    let name = &column.name;
                    s.check_writable(name)?;
                    let Some(game_type) = s.world.game_types.get(name).cloned() else {
                        return Err(ModError::InvalidValue(format!(
                            "`{name}` is defined by a mod; write it with `insert`"
                        )));
                    };
                    for e in &batch.entities {
                        let read = s.queries.iter().any(|q| {
                            q.names.contains(name)
                                && q.entities.contains(e)
                                && !s.despawned.contains(e)
                        });
                        if !read {
                            return Err(ModError::InvalidValue(format!(
                                "batch row {e}: not an entity the mod's queries gave with \
                                 `{name}` this tick"
                            )));
                        }
                        s.check_owner(*e)?;
                    }
                    let values = match &column.encoding {
                        ColumnEncoding::Msgpack => {
                            split_array(&column.data, rows, s.world.limits.value_depth).map_err(
                                |e| ModError::InvalidValue(format!("column `{name}`: {e}")),
                            )?
                        }
                        ColumnEncoding::Packed(fields) => {
                            let codec = game_type.packed.as_ref().ok_or_else(|| {
                                ModError::InvalidValue(format!("`{name}` has no packed layout"))
                            })?;
                            if *fields != codec.fields {
                                return Err(ModError::InvalidValue(format!(
                                    "`{name}`: packed in a layout the host did not give"
                                )));
                            }
                            (codec.unpack)(&column.data, fields, rows)
                                .map_err(|e| ModError::InvalidValue(format!("{name}: {e}")))?
                        }
                    };
                    if values.len() != rows {
                        return Err(ModError::InvalidValue(format!(
                            "column `{name}` has {} values for {rows} rows",
                            values.len()
                        )));
                    }
                    for v in &values {
                        s.check_value(name, v)?;
                    }
                    commands.push((name.clone(), values));
                }
                for (name, values) in commands {
                    for (e, v) in batch.entities.iter().zip(&values) {
                        s.overlay.insert((*e, name.clone()), Some(v.clone()));
                    }
                    s.record(Command::Write(batch.entities.clone(), name, values), 0)?;
                }
                Ok(())
            })();
            s.refuse_on_error(result)
        })
    }
}

/// `events`.
pub(crate) mod events {
    use super::super::*;
    pub(crate) use crate::__private::bindings::bevy_wasm::mods::events::BadInput;

    pub(crate) fn emit(name: &str, payload: &[u8]) -> Result<(), ModError> {
        with_session(|s| {
            let name = &*s.full_event(name);
            let result = (|| {
                mod_rules::access::may_emit(&s.world, &s.world.id, name)?;
                s.check_room(name.len() + payload.len())?;
                s.check_value(name, payload)?;
                s.ledger.event(&s.world.limits)?;
                s.record(
                    Command::Emit(name.to_string(), payload.to_vec()),
                    name.len() + payload.len(),
                )
            })();
            s.refuse_on_error(result)
        })
    }

    pub(crate) fn reject(input: &BadInput, reason: &str) {
        with_session(|s| {
            if !s.ledger.take_report() {
                return;
            }
            let (culprit, about) = match input {
                BadInput::Event(i) => match s.delivered.get(*i as usize) {
                    Some((source, name)) => (source.clone(), format!("event {name}")),
                    None => return,
                },
                BadInput::Value(name) => {
                    let name = &s.full_type(name);
                    let owner = s.world.foreign_types.get(name).map(|(o, _)| o.clone());
                    (owner, format!("component {name}"))
                }
            };
            let frame = s.world.frame;
            s.world.rejects.push(Rejected {
                frame,
                about,
                culprit,
                reason: reason.to_string(),
            });
        })
    }

    pub(crate) fn reject_value(entity: u64, name: &str, reason: &str) {
        with_session(|s| {
            let name = &*s.full_type(name);
            // Only a value the tick gave the mod, not one it wrote.
            let given = !s.overlay.contains_key(&(entity, name.to_string()))
                && s.queries
                    .iter()
                    .any(|q| q.names.iter().any(|n| n == name) && q.entities.contains(&entity));
            if !s.ledger.is_open() || !given || !s.ledger.take_report() {
                return;
            }
            // The game's types keep their shape: no one else to blame.
            let culprit = if s.world.game_types.contains_key(name) {
                None
            } else {
                s.world
                    .entities
                    .get(&entity)
                    .and_then(|e| e.writers.get(name))
                    .filter(|by| **by != s.world.id)
                    .cloned()
            };
            let frame = s.world.frame;
            s.world.rejects.push(Rejected {
                frame,
                about: format!("component {name} of entity {entity}"),
                culprit,
                reason: reason.to_string(),
            });
        })
    }
}

/// `log`.
pub(crate) mod log {
    use super::super::*;
    pub(crate) use crate::__private::bindings::bevy_wasm::mods::log::Level;

    pub(crate) fn log(level: Level, message: &str) {
        with_session(|s| {
            if s.lines >= s.world.limits.log_lines_per_tick {
                return;
            }
            s.lines += 1;
            let mut text = message.to_string();
            text.truncate(text.floor_char_boundary(MAX_LOG));
            let level = match level {
                Level::Trace => super::super::Level::Trace,
                Level::Debug => super::super::Level::Debug,
                Level::Info => super::super::Level::Info,
                Level::Warn => super::super::Level::Warn,
                Level::Error => super::super::Level::Error,
            };
            // Shown by the test harness when a test fails.
            println!("[{} {level:?}] {}", s.world.id, text.escape_debug());
            let frame = s.world.frame;
            s.world.logs.push(LogLine {
                frame,
                level,
                message: text,
            });
        })
    }
}
