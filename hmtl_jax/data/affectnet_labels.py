"""AffectNet-8's label set: the canonical class order every data set the trainer reads is mapped to."""

CLASS_NAMES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
# AffectNet manually annotated training set, expression codes 0-7 (the order of CLASS_NAMES).
AFFECTNET8_TRAIN_COUNTS = (74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750)
