module example.org/bridge

go 1.19
