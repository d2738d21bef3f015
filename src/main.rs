fn main() {
    std::process::exit(podnet::dispatch::main());
}
