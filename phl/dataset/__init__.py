"""Data sets: the phl HDF5 format, import/export, splits and training batches."""

from phl.dataset.store import Dataset, DatasetWriter, Structure

__all__ = ["Dataset", "DatasetWriter", "Structure"]
