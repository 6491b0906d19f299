"""Blob storage: immutable blobs named by the SHA-1 of their bytes, kept in a directory or an S3
bucket (`store`), and files kept as ordered chunks over it (`files`)."""
