"""Object stores (MinIO; a filesystem store for the embedded default), the image pipeline, attachments."""
