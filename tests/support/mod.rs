pub mod clerk_double;
pub mod kratos_double;
