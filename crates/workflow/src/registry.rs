//! The set of process definitions an application runs.
//!
//! The application embeds its own definitions; a district may replace any of them with a file
//! of the same `name` in its configuration directory (a different time limit, another role)
//! without a new release. Loading reports the problems of every file at once, because an
//! administrator fixing a configuration directory should see all of them in one go.

use std::collections::BTreeMap;
use std::path::Path;

use crate::definition::{Definition, DefinitionError};

/// Definitions by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    definitions: BTreeMap<String, Definition>,
    overridden: Vec<String>,
}

impl Registry {
    /// Loads `embedded` (`(file_name, source)` pairs) and then every `*.toml` file of
    /// `override_dir`, in file-name order.
    ///
    /// An override file must carry the `name` of an embedded definition and replaces it; a
    /// file with a new name is refused, since the application would never run it and it is
    /// most likely a misspelt name.
    ///
    /// # Errors
    /// Every problem of every file: parse and validation errors, duplicate names within the
    /// embedded set or within the directory, unknown names in the directory, and an unreadable
    /// directory or file.
    pub fn load(
        embedded: &[(&str, &str)],
        override_dir: Option<&Path>,
    ) -> Result<Registry, Vec<DefinitionError>> {
        let mut errors = Vec::new();
        let mut registry = Registry::default();

        for (file, source) in embedded {
            match Definition::from_toml(file, source) {
                Ok(definition) => {
                    if let Some(first) = registry.definitions.get(definition.name()) {
                        errors.push(whole_file(
                            file,
                            format!(
                                "process \"{}\" is already defined in {}",
                                definition.name(),
                                first.file()
                            ),
                        ));
                    } else {
                        registry
                            .definitions
                            .insert(definition.name().to_string(), definition);
                    }
                }
                Err(mut file_errors) => errors.append(&mut file_errors),
            }
        }

        if let Some(dir) = override_dir {
            let mut replaced: BTreeMap<String, String> = BTreeMap::new();
            for (file, source) in read_toml_files(dir, &mut errors) {
                let definition = match Definition::from_toml(&file, &source) {
                    Ok(definition) => definition,
                    Err(mut file_errors) => {
                        errors.append(&mut file_errors);
                        continue;
                    }
                };
                let name = definition.name().to_string();
                if let Some(first) = replaced.get(&name) {
                    errors.push(whole_file(
                        &file,
                        format!("process \"{name}\" is already overridden by {first}"),
                    ));
                } else if !registry.definitions.contains_key(&name) {
                    errors.push(whole_file(
                        &file,
                        format!(
                            "process \"{name}\" does not replace any built-in process (known: {})",
                            registry.names().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                } else {
                    replaced.insert(name.clone(), file);
                    registry.overridden.push(name.clone());
                    registry.definitions.insert(name, definition);
                }
            }
        }

        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Definition> {
        self.definitions.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.definitions.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Definition> {
        self.definitions.values()
    }

    /// Whether `name` comes from the override directory (to show on an admin page).
    pub fn is_overridden(&self, name: &str) -> bool {
        self.overridden.iter().any(|n| n == name)
    }
}

fn whole_file(file: &str, message: String) -> DefinitionError {
    DefinitionError {
        file: file.to_string(),
        line: 0,
        column: 0,
        message,
    }
}

/// `(path shown in errors, contents)` of the `*.toml` files of `dir`, sorted by name.
fn read_toml_files(dir: &Path, errors: &mut Vec<DefinitionError>) -> Vec<(String, String)> {
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(whole_file(&shown, format!("cannot read directory: {e}")));
            return Vec::new();
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(source) => Some((shown, source)),
                Err(e) => {
                    errors.push(whole_file(&shown, format!("cannot read file: {e}")));
                    None
                }
            }
        })
        .collect()
}
