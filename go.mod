module github.com/locust-go/boomer

go 1.26.8

require (
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/zeromq/goczmq v4.1.0+incompatible // indirect
	golang.org/x/time v0.16.0 // indirect
)
