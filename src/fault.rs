//! test-only fault switch
