fn main() {
    std::process::exit(podnet::cli::main());
}
