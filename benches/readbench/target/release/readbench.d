/work/main/benches/readbench/target/release/readbench: /work/main/benches/readbench/src/main.rs
