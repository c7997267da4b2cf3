module gortbench/peers

go 1.21
