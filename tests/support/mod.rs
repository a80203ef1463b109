pub mod kratos_double;
