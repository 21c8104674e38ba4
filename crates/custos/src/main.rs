fn main() {
    custos::main(std::env::args_os().collect())
}
