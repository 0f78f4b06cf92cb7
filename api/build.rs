//! The console's assets are embedded (src/console.rs): rebuild when `console/dist` changes,
//! including files added or removed (Vite names them by content hash).
fn main() {
    println!("cargo:rerun-if-changed=../console/dist");
}
