/work/main/benches/readbench/target/release/deps/readbench-ebe87c7abddf6198.d: src/main.rs

/work/main/benches/readbench/target/release/deps/readbench-ebe87c7abddf6198: src/main.rs

src/main.rs:
