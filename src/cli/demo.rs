pub fn run() -> crate::model::Result<i32> {
    Err(crate::model::Error::failed("demo: not yet"))
}
