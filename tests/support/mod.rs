pub mod kratos_double;
pub mod clerk_double;
