//! RFC 6962 Merkle hashing for auditpipe, byte-for-byte the same as pipeline/archive/merkle.py:
//! leaf = SHA-256(0x00 || record), node = SHA-256(0x01 || left || right); the root is built level
//! by level, pairing neighbours left to right and carrying an unpaired last node up unchanged;
//! the empty tree's root is SHA-256(""). Hashing runs with the GIL released.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sha2::{Digest, Sha256};

fn check_bounds(len: usize, bounds: &[usize]) -> PyResult<()> {
    if bounds.windows(2).any(|w| w[0] > w[1]) || bounds.last().is_some_and(|&b| b > len) {
        return Err(PyValueError::new_err("bounds must be non-decreasing and within the data"));
    }
    Ok(())
}

/// Leaf hashes of data[bounds[i]..bounds[i + 1]], concatenated (32 bytes each).
fn leaves_into(data: &[u8], bounds: &[usize], out: &mut [u8]) {
    for (i, w) in bounds.windows(2).enumerate() {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&data[w[0]..w[1]]);
        out[32 * i..32 * i + 32].copy_from_slice(&h.finalize());
    }
}

fn root_of(leaves: &[u8]) -> [u8; 32] {
    let n = leaves.len() / 32;
    if n == 0 {
        return Sha256::digest(b"").into();
    }
    let mut level = leaves.to_vec();
    let mut count = n;
    while count > 1 {
        let pairs = count / 2;
        for i in 0..pairs {
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(&level[64 * i..64 * i + 64]);
            let d = h.finalize();
            level[32 * i..32 * i + 32].copy_from_slice(&d);
        }
        if count % 2 == 1 {
            level.copy_within(32 * (count - 1)..32 * count, 32 * pairs);
        }
        count = pairs + count % 2;
    }
    let mut r = [0u8; 32];
    r.copy_from_slice(&level[..32]);
    r
}

/// leaf_hashes(data, bounds) -> bytes: the leaf hashes of data[bounds[i]:bounds[i+1]], 32 bytes each.
#[pyfunction]
fn leaf_hashes<'py>(py: Python<'py>, data: &[u8], bounds: Vec<usize>) -> PyResult<Bound<'py, PyBytes>> {
    check_bounds(data.len(), &bounds)?;
    let n = bounds.len().saturating_sub(1);
    let mut out = vec![0u8; 32 * n];
    py.detach(|| leaves_into(data, &bounds, &mut out));
    Ok(PyBytes::new(py, &out))
}

/// root(leaves) -> bytes: the RFC 6962 tree hash of concatenated 32-byte leaf hashes.
#[pyfunction]
fn root<'py>(py: Python<'py>, leaves: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    if leaves.len() % 32 != 0 {
        return Err(PyValueError::new_err("leaf hashes must be 32 bytes each"));
    }
    let r = py.detach(|| root_of(leaves));
    Ok(PyBytes::new(py, &r))
}

/// leaves_and_root(data, bounds) -> (leaf hashes concatenated, root), in one call.
#[pyfunction]
fn leaves_and_root<'py>(
    py: Python<'py>,
    data: &[u8],
    bounds: Vec<usize>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    check_bounds(data.len(), &bounds)?;
    let n = bounds.len().saturating_sub(1);
    let mut out = vec![0u8; 32 * n];
    let r = py.detach(|| {
        leaves_into(data, &bounds, &mut out);
        root_of(&out)
    });
    Ok((PyBytes::new(py, &out), PyBytes::new(py, &r)))
}

#[pymodule]
fn auditpipe_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(leaf_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(root, m)?)?;
    m.add_function(wrap_pyfunction!(leaves_and_root, m)?)?;
    Ok(())
}
