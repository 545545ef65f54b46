"""MONAI Label integration: a DICOMweb (PACS) datastore and app mixin for MONAI Label 0.8.5.

These modules import ``monailabel`` and run only inside the MONAI Label environment that
``scripts/monailabel.sh`` builds (``.venv-monailabel``); nothing here is imported by ``dca_monai``.
"""
