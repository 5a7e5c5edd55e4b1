"""``cnn.CNNClassifier`` against scikit-learn's own estimator checks and meta-estimators."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from cnn import CNNClassifier


def expected_failed_checks(estimator):
    """Checks that cannot apply here, with the reason (none at the moment).

    The two checks scikit-learn itself skips in this environment are skipped
    with its own message: ``check_array_api_input`` (needs SCIPY_ARRAY_API)
    and ``check_classifier_data_not_an_array`` (needs pandas).
    """
    return {}


@parametrize_with_checks([CNNClassifier(epochs=10, random_state=0)],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))[:600]   # all classes in every fold
    return X[order], y[order]


def test_fit_predict_on_digits(digits):
    X, y = digits
    clf = CNNClassifier(image_shape=(8, 8), epochs=15, random_state=0).fit(X[:450], y[:450])
    assert clf.image_shape_ == (8, 8) and clf.n_iter_ == 15 and len(clf.loss_curve_) == 15
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    proba = clf.predict_proba(X[450:])
    assert proba.shape == (150, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    assert clf.score(X[450:], y[450:]) > 0.85


def test_same_random_state_same_model(digits):
    X, y = digits
    a = CNNClassifier(epochs=3, random_state=5).fit(X, y).predict_proba(X)
    b = CNNClassifier(epochs=3, random_state=5).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_string_labels_and_inferred_shape(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    clf = CNNClassifier(epochs=5, random_state=0).fit(X, names[y])
    assert clf.image_shape_ == (8, 8)                     # 64 features: a square image
    assert set(clf.predict(X[:20])) <= set(names)


def test_in_a_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z / 16.0),
                         CNNClassifier(image_shape=(8, 8), epochs=10, random_state=0))
    pipe.fit(X[:450], y[:450])
    assert pipe.score(X[450:], y[450:]) > 0.85


def test_cross_val_score(digits):
    X, y = digits
    scores = cross_val_score(CNNClassifier(image_shape=(8, 8), epochs=8, random_state=0),
                             X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_grid_search(digits):
    X, y = digits
    search = GridSearchCV(CNNClassifier(image_shape=(8, 8), epochs=6, random_state=0),
                          {"hidden": [4, 40], "lr": [0.05]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["hidden"] in (4, 40)
    assert search.best_estimator_.network_.config["hidden"] == search.best_params_["hidden"]
    assert search.score(X, y) > 0.75


def test_bad_image_shape_is_named(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"image_shape: got \(7, 7\).*64 features"):
        CNNClassifier(image_shape=(7, 7), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="schedule"):
        CNNClassifier(schedule="step").fit(X, y)


def test_the_optimizer_is_a_parameter(digits):
    """``optimizer`` picks one of cnn.optim.OPTIMIZERS; Adam learns the digits too, and
    differs from SGD (the parameter reaches the training loop)."""
    X, y = digits
    adam = CNNClassifier(image_shape=(8, 8), epochs=10, optimizer="adam", lr=0.005,
                         random_state=0).fit(X[:450], y[:450])
    sgd = CNNClassifier(image_shape=(8, 8), epochs=10, lr=0.005, random_state=0).fit(X[:450],
                                                                                    y[:450])
    assert adam.get_params()["optimizer"] == "adam"
    assert adam.score(X[450:], y[450:]) > 0.85
    assert adam.loss_curve_ != sgd.loss_curve_
    with pytest.raises(ValueError, match=r"optimizer: got 'lbfgs'; expected one of \('sgd', 'adam'\)"):
        CNNClassifier(optimizer="lbfgs", epochs=1).fit(X, y)
