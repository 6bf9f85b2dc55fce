//! File-path helpers shared by every layer: paths as shown, and I/O errors in words.

use std::path::{Path, PathBuf};

/// A path relative to the workspace with `/` separators, as shown everywhere (`../` where a
/// workspace names files outside its folder).
pub fn display_path(root: &Path, path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = normalize(&cwd.join(root));
    let path = normalize(&cwd.join(path));
    let common = root
        .components()
        .zip(path.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = root.components().count().saturating_sub(common);
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups)
        .chain(
            path.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    parts.join("/")
}

/// Removes `.` and folds `..` lexically (no file system access, so missing paths work too).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a folder".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_are_relative_to_the_workspace() {
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/c/d.yaml")),
            "c/d.yaml"
        );
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/../x/y.cedar")),
            "../x/y.cedar"
        );
    }
}
