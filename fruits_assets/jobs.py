"""Named jobs, as a user launches them from the UI or ``dagster job launch``."""

from dagster import AssetSelection, define_asset_job

from .partitions import fruit_classes

IMAGE_ASSETS = ("raw_images", "rejected_images", "mobilenet_v2", "image_features")

images_by_class = define_asset_job(
    "images_by_class",
    selection=AssetSelection.assets(*IMAGE_ASSETS),
    partitions_def=fruit_classes,
    description="Ingest and featurize the chosen fruit classes (a range of classes is one run).",
)
refit_model = define_asset_job(
    "refit_model",
    selection=AssetSelection.assets("pca_model", "pca_matrix", "fruit_classifier"),
    description="Refit the PCA on every class with features, write the CSV matrix, retrain the classifier.",
)

ALL_JOBS = [images_by_class, refit_model]
