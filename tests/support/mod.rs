pub mod clerk_double;
pub mod hydra_double;
pub mod kratos_double;
pub mod smtp_sink;
