"""The optimisers (cnn.optim): SGD and Adam against PyTorch, their state, their refusals.

* SGD (momentum, the seeds' form) and Adam against ``torch.optim.SGD`` /
  ``torch.optim.Adam``, with and without ``LambdaLR``, over 60 steps on
  random float64 parameters of several shapes, the gradients depending on
  the parameters (so a wrong step changes every later one);
* ``state_dict()`` / ``load_state_dict()``: a copy of the state continues
  exactly as the original would, bit for bit;
* a step that would make a parameter or a buffer non-finite raises
  FloatingPointError and leaves every parameter and the whole state as they
  were (also the parameters updated before the bad one);
* bad states (another optimiser's, wrong shapes or dtypes, no step count)
  get errors naming the key, and change nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn.networks import Digits01Net
from cnn.optim import OPTIMIZERS, SGD, Adam, Optimizer, cosine_schedule, make_optimizer

torch = pytest.importorskip("torch")

SHAPES = {"conv_w": (2, 1, 3, 3), "b": (4,), "w": (5, 3)}
STEPS = 60
#: A schedule with warm-up and decay, as PyTorch's LambdaLR takes it.
SCHEDULE = cosine_schedule(STEPS, warmup_steps=5, final_factor=0.1)


def random_params(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def gradient(params: dict, t: int) -> dict:
    """A gradient that depends on the parameters (that of sum(w^4/4 + w^2/2) plus noise
    fixed by the step), so a wrong update shows in every later step."""
    rng = np.random.default_rng(1000 + t)
    return {k: w ** 3 + 0.5 * w + rng.standard_normal(w.shape) for k, w in params.items()}


def run_ours(opt: Optimizer, params: dict, steps: int = STEPS, start: int = 0) -> dict:
    for t in range(start, start + steps):
        opt.step(params, gradient(params, t))
    return params


def run_torch(make, params: dict, schedule=None) -> dict:
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt = make(list(tensors.values()))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule) if schedule else None
    for t in range(STEPS):
        grads = gradient({k: v.detach().numpy() for k, v in tensors.items()}, t)
        for k, v in tensors.items():
            v.grad = torch.tensor(grads[k])
        opt.step()
        if sched is not None:
            sched.step()
    return {k: v.detach().numpy() for k, v in tensors.items()}


def assert_close(ours: dict, theirs: dict, rtol: float = 1e-12) -> None:
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=rtol, atol=1e-14, err_msg=k)


# ----------------------------------------------------------------------------- against PyTorch

@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_pytorch_sgd(momentum):
    """v = mu v + lr g, w -= v is PyTorch's u = mu u + g, w -= lr u at a constant rate."""
    ours = run_ours(SGD(0.01, momentum), random_params())
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.01, momentum=momentum), random_params())
    assert_close(ours, theirs)


def test_sgd_with_momentum_under_a_schedule_is_the_seed_rule():
    """Under a schedule the rate scales new gradients only (PyTorch's would rescale the
    accumulated velocity too): v_t = mu v_{t-1} + lr f(t) g_t, written out here."""
    params, expected = random_params(), random_params()
    velocity = {k: np.zeros_like(v) for k, v in expected.items()}
    opt = SGD(0.02, 0.8, SCHEDULE)
    for t in range(STEPS):
        opt.step(params, gradient(params, t))
        g = gradient(expected, t)
        for k in SHAPES:
            velocity[k] = 0.8 * velocity[k] + 0.02 * SCHEDULE(t) * g[k]
            expected[k] = expected[k] - velocity[k]
    for k in SHAPES:                       # the same operations in the same order: equal bits
        np.testing.assert_array_equal(params[k], expected[k], err_msg=k)


@pytest.mark.parametrize("schedule", [None, SCHEDULE], ids=["constant", "lambda_lr"])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_matches_pytorch_adam(schedule, betas):
    ours = run_ours(Adam(0.01, momentum=betas[0], beta2=betas[1], eps=1e-8, schedule=schedule),
                    random_params())
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, betas=betas, eps=1e-8),
                       random_params(), schedule)
    assert_close(ours, theirs)


def test_adam_eps_sits_where_pytorch_puts_it():
    """With a large eps the two placements (after or before the bias correction of
    sqrt(v)) differ visibly; PyTorch's is after, and so is ours."""
    ours = run_ours(Adam(0.01, eps=0.1), random_params())
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=0.1), random_params())
    assert_close(ours, theirs)


def test_make_optimizer_builds_every_optimizer_by_name():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam}
    sgd = make_optimizer("sgd", lr=0.1, momentum=0.5, schedule=SCHEDULE)
    assert (type(sgd), sgd.lr, sgd.momentum, sgd.schedule) == (SGD, 0.1, 0.5, SCHEDULE)
    assert make_optimizer("sgd", lr=0.1).momentum == 0.0
    adam = make_optimizer("adam", lr=1e-3, beta2=0.99)
    assert (type(adam), adam.momentum, adam.beta2, adam.eps) == (Adam, 0.9, 0.99, 1e-8)
    with pytest.raises(ValueError, match=r"optimizer: got 'rmsprop'; expected one of \('sgd', 'adam'\)"):
        make_optimizer("rmsprop", lr=0.1)
    with pytest.raises(TypeError, match=r"options: got \['beta2'\]; the sgd optimiser takes \['momentum'\]"):
        make_optimizer("sgd", lr=0.1, beta2=0.9)


# ----------------------------------------------------------------------------- state

@pytest.mark.parametrize("make", [lambda: SGD(0.01, 0.9, SCHEDULE),
                                  lambda: Adam(0.01, schedule=SCHEDULE)], ids=["sgd", "adam"])
def test_a_loaded_state_continues_exactly(make):
    opt = make()
    params = run_ours(opt, random_params(), steps=20)
    state = opt.state_dict()
    assert state["steps"] == 20
    assert {k.rpartition("/")[2] for k in state if k != "steps"} == set(SHAPES)
    assert all(isinstance(v, np.ndarray) for k, v in state.items() if k != "steps")
    twin, twin_params = make(), {k: v.copy() for k, v in params.items()}
    twin.load_state_dict(state, twin_params)
    for array in state.values():           # the state was copied in, not shared
        if isinstance(array, np.ndarray):
            array[...] = np.nan
    run_ours(opt, params, steps=30, start=20)
    run_ours(twin, twin_params, steps=30, start=20)
    for k in SHAPES:
        np.testing.assert_array_equal(twin_params[k], params[k], err_msg=k)
    assert twin.steps == opt.steps == 50


def test_state_dict_is_a_copy():
    opt = SGD(0.1, 0.9)
    run_ours(opt, random_params(), steps=2)
    state = opt.state_dict()
    state["velocity/w"][...] = 0
    assert np.any(opt.velocity["w"] != 0)


def test_sgd_without_momentum_keeps_no_state_but_the_step_count():
    opt = SGD(0.1)
    run_ours(opt, random_params(), steps=3)
    assert opt.state_dict() == {"steps": 3}


def test_the_sgd_update_reuses_its_arrays():
    """After the first steps no array is allocated per step: the velocity and the
    scratch arrays trade places among the same few arrays."""
    opt, params = SGD(0.01, 0.9), random_params()
    run_ours(opt, params, steps=2)
    seen = {id(a) for a in opt.velocity.values()} | {id(a) for s in opt._scratch.values() for a in s}
    arrays = list(opt.velocity.values()) + [a for s in opt._scratch.values() for a in s]
    run_ours(opt, params, steps=5, start=2)
    assert {id(a) for a in opt.velocity.values()} <= seen
    assert arrays                                    # (kept alive, so ids are not reused)


# ----------------------------------------------------------------------------- non-finite steps

def snapshot(opt: Optimizer, params: dict):
    return {k: v.copy() for k, v in params.items()}, opt.state_dict()


def assert_untouched(opt, params, before):
    old_params, old_state = before
    for k, v in old_params.items():
        np.testing.assert_array_equal(params[k], v, err_msg=k)
    state = opt.state_dict()
    assert state.keys() == old_state.keys()
    for k, v in old_state.items():
        np.testing.assert_array_equal(state[k], v, err_msg=k)


def push_w_past_the_largest_float(opt, params, grads):
    """The new w[0, 0] overflows: SGD's -lr g, or Adam's step of about -lr (lr made huge)."""
    params["w"][0, 0] = -1.79e308
    grads["w"][0, 0] = 1e308
    if isinstance(opt, Adam):
        opt.lr = 1e307         # steps of ~3e307 (after the bias correction): finite elsewhere


def overflow_adams_second_moment(opt, params, grads):
    """g^2 = inf in v, while the step m / sqrt(v) = 0 leaves w finite."""
    grads["w"][0, 0] = 1e200


FAULTS = {"sgd, parameter": (lambda: SGD(0.5, 0.9), push_w_past_the_largest_float),
          "adam, parameter": (lambda: Adam(0.5), push_w_past_the_largest_float),
          "adam, buffer v": (lambda: Adam(0.5), overflow_adams_second_moment)}


@pytest.mark.filterwarnings("error")        # reported as the error, not as NumPy's warning
@pytest.mark.parametrize("case", sorted(FAULTS))
def test_a_non_finite_step_leaves_parameters_and_state_untouched(case):
    make, fault = FAULTS[case]
    opt, params = make(), random_params()
    run_ours(opt, params, steps=3)
    grads = gradient(params, 3)
    # The last parameter in order goes bad: the earlier ones must not be updated either.
    fault(opt, params, grads)
    before = snapshot(opt, params)
    with pytest.raises(FloatingPointError, match=r"the update of parameter 'w'.* at step 3"):
        opt.step(params, grads)
    assert_untouched(opt, params, before)
    assert opt.steps == 3


def test_bad_gradients_are_named():
    opt, params = SGD(0.1), random_params()
    with pytest.raises(ValueError, match=r"grads: got names \['b', 'w'\]; expected \['b', 'conv_w', 'w'\]"):
        opt.step(params, {"b": np.zeros(4), "w": np.zeros((5, 3))})
    grads = gradient(params, 0)
    grads["b"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"grads\['b'\]: got shape \(5,\); expected \(4,\)"):
        opt.step(params, grads)
    assert opt.steps == 0


# ----------------------------------------------------------------------------- bad states

def sgd_state():
    opt = SGD(0.1, 0.9)
    params = run_ours(opt, random_params(), steps=2)
    return opt.state_dict(), params


def edited(change):
    state, params = sgd_state()
    change(state)
    return state, params


BAD_STATES = {
    "not a dict": (lambda: ([("steps", 1)], None), TypeError,
                   r"state: got list; expected the state_dict\(\) of a SGD optimiser"),
    "no steps": (lambda: edited(lambda s: s.pop("steps")), ValueError,
                 r"state\['steps'\]: got None; expected the step count of a SGD optimiser"),
    "negative steps": (lambda: edited(lambda s: s.update(steps=-1)), ValueError,
                       r"state\['steps'\]: got -1"),
    "adam's state": (lambda: (run_adam_state(), random_params()), ValueError,
                     (r"state: got the key 'm/\w+', which is not in the state of a SGD "
                      r"optimiser \('velocity/<param>' besides 'steps'\)")),
    "wrong shape": (lambda: edited(lambda s: s.update({"velocity/w": np.zeros((3, 5))})),
                    ValueError, (r"state\['velocity/w'\]: got shape \(3, 5\) and dtype float64; "
                                 r"expected shape \(5, 3\) and dtype float64")),
    "wrong dtype": (lambda: edited(lambda s: s.update({"velocity/w": np.zeros((5, 3), np.float32)})),
                    ValueError, r"state\['velocity/w'\]: got shape \(5, 3\) and dtype float32"),
    "no such parameter": (lambda: edited(lambda s: s.update({"velocity/w9": np.zeros(2)})),
                          ValueError, r"state\['velocity/w9'\]: no parameter 'w9'"),
    "non-finite": (lambda: edited(lambda s: s["velocity/b"].__setitem__(0, np.inf)),
                   ValueError, r"state\['velocity/b'\]: got non-finite values"),
}


def run_adam_state():
    opt = Adam(0.1)
    run_ours(opt, random_params(), steps=2)
    return opt.state_dict()


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_a_bad_state_is_refused_and_changes_nothing(case):
    make, error, message = BAD_STATES[case]
    state, params = make()
    opt = SGD(0.1, 0.9)
    run_ours(opt, random_params(5), steps=1)
    before = opt.state_dict()
    with pytest.raises(error, match=message):
        opt.load_state_dict(state, params)
    after = opt.state_dict()
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[k], v) for k, v in before.items())


def test_adam_refuses_a_state_with_only_one_moment():
    state = run_adam_state()
    for key in [k for k in state if k.startswith("v/")][:1]:
        del state[key]
    with pytest.raises(ValueError, match=r"expected each of \('m', 'v'\) for the same parameters"):
        Adam(0.1).load_state_dict(state, random_params())


def test_bad_hyper_parameters_are_named():
    for call, message in [(lambda: SGD(0.0), r"lr: got 0.0; expected a finite number > 0"),
                          (lambda: SGD(0.1, 1.0), r"momentum: got 1.0; expected a number in \[0, 1\)"),
                          (lambda: Adam(0.1, beta2=1.0), r"beta2: got 1.0; expected a number in \[0, 1\)"),
                          (lambda: Adam(0.1, eps=0.0), r"eps: got 0.0; expected a finite number > 0")]:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match=r"lr: got '0.1' of type str; expected a real number"):
        Adam("0.1")
    with pytest.raises(TypeError, match=r"schedule: got int; expected a function step -> factor"):
        SGD(0.1, schedule=3)


# ----------------------------------------------------------------------------- train() takes one

def small_data():
    rng = np.random.default_rng(3)
    return rng.random((20, 8, 8)), rng.integers(0, 2, 20)


def test_train_takes_an_optimizer_by_name_or_as_an_object():
    X, y = small_data()
    by_name, as_object = Digits01Net(seed=1), Digits01Net(seed=1)
    cnn.train(by_name, X, y, epochs=2, batch_size=8, optimizer="adam", lr=0.01)
    opt = Adam(0.01)
    history = cnn.train(as_object, X, y, epochs=2, batch_size=8, optimizer=opt)
    assert opt.steps == history.steps == 6
    for k, v in by_name.params.items():
        np.testing.assert_array_equal(as_object.params[k], v, err_msg=k)
    with pytest.raises(ValueError, match=r"optimizer: got an Adam instance together with lr"):
        cnn.train(as_object, X, y, epochs=1, batch_size=8, optimizer=Adam(0.01), lr=0.1)
    with pytest.raises(ValueError, match=r"optimizer: got 'adagrad'; expected one of \('sgd', 'adam'\)"):
        cnn.train(as_object, X, y, epochs=1, batch_size=8, optimizer="adagrad", lr=0.1)
    with pytest.raises(TypeError, match=r"lr: missing; expected the base learning rate"):
        cnn.train(as_object, X, y, epochs=1, batch_size=8)


# ----------------------------------------------------------------------------- one flat array

def packed(params: dict) -> dict:
    """The same values as consecutive views of one flat array (as MnistNet packs them)."""
    flat = np.concatenate([v.reshape(-1) for v in params.values()])
    out, start = {}, 0
    for k, v in params.items():
        out[k] = flat[start:start + v.size].reshape(v.shape)
        start += v.size
    return out


@pytest.mark.parametrize("make", [lambda: SGD(0.01, 0.9, SCHEDULE), lambda: SGD(0.05),
                                  lambda: Adam(0.01, schedule=SCHEDULE)],
                         ids=["sgd momentum", "sgd plain", "adam"])
def test_the_flat_update_gives_the_same_bits_as_the_per_parameter_one(make):
    """Parameters and gradients that are views of one flat array are updated in one go:
    the same numbers, bit for bit, also when the run switches between the two ways and
    after a state is loaded."""
    apart, together = random_params(), packed(random_params())
    a, b = make(), make()
    for t in range(STEPS):
        if t == 20:                              # a loaded state, laid out flat again
            state = b.state_dict()
            b = make()
            b.load_state_dict(state, together)
        g = gradient(apart, t)
        a.step(apart, g)
        b.step(together, packed(g) if t % 7 else g)   # now and then per parameter
    for k in SHAPES:
        np.testing.assert_array_equal(together[k], apart[k], err_msg=k)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sb[k], sa[k], err_msg=k)
    buffers = [v for k, v in b.buffers.items() if v]
    assert all(len({id(x.base) for x in arrays.values()}) == 1 for arrays in buffers)


def test_a_non_finite_flat_update_names_its_parameter_and_changes_nothing():
    opt, params = SGD(0.5, 0.9), packed(random_params())
    for t in range(3):
        opt.step(params, packed(gradient(params, t)))
    grads = gradient(params, 3)
    push_w_past_the_largest_float(opt, params, grads)
    before = snapshot(opt, params)
    with pytest.raises(FloatingPointError, match=r"the update of parameter 'w' at step 3"):
        opt.step(params, packed(grads))
    assert_untouched(opt, params, before)
