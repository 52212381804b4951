"""The api-server and its store: etcd's MVCC model, authorization, admission, CRUD and watch."""
