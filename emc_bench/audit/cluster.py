"""Groups of different texts with one meaning: greedy centroid clustering of sentence
embeddings by cosine.

Each round takes the text whose neighbourhood (texts within ``SEED_SIMILARITY``) carries the
most rows, and grows a cluster around the row-weighted centroid of that neighbourhood: every
text still free within ``MEMBER_SIMILARITY`` of the centroid joins, and the centroid is
recomputed (``REFINE_ROUNDS`` times). Rounds stop when no neighbourhood carries ``min_weight``
rows. Paraphrases of one framing sit at about 0.55-0.8 from their centroid in all-MiniLM-L6-v2
space, so the member bound is the lower end of that range.
"""

from __future__ import annotations

import numpy as np

SEED_SIMILARITY = 0.55
MEMBER_SIMILARITY = 0.55
REFINE_ROUNDS = 2
MAX_CLUSTERS = 200
BLOCK = 1024


def _neighbours(vectors: np.ndarray, threshold: float):
    """A sparse 0/1 matrix: which pairs of texts are within ``threshold`` (self included)."""
    from scipy import sparse

    rows, cols = [], []
    for start in range(0, len(vectors), BLOCK):
        sims = vectors[start:start + BLOCK] @ vectors.T
        r, c = np.nonzero(sims >= threshold)
        rows.append(r + start)
        cols.append(c)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(vectors),) * 2)


def _centroid(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    centre = (vectors * weights[:, None]).sum(axis=0)
    norm = np.linalg.norm(centre)
    return centre / norm if norm else centre


def cluster(vectors: np.ndarray, weights: np.ndarray, min_weight: float) -> list[np.ndarray]:
    """Clusters as arrays of text indices, heaviest first; texts in no cluster are left out.

    ``vectors`` are L2-normalised embeddings; ``weights`` the rows each text stands for.
    """
    n = len(vectors)
    if n == 0:
        return []
    vectors = np.asarray(vectors, dtype=np.float32)
    weights = np.asarray(weights, dtype=np.float32)
    graph = _neighbours(vectors, SEED_SIMILARITY)
    free = np.ones(n, dtype=bool)
    clusters = []
    while len(clusters) < MAX_CLUSTERS:
        density = graph @ (weights * free)
        density[~free] = -1.0
        seed = int(np.argmax(density))
        if density[seed] < min_weight:
            break
        members = graph.indices[graph.indptr[seed]:graph.indptr[seed + 1]]
        members = members[free[members]]
        for _ in range(REFINE_ROUNDS):
            centre = _centroid(vectors[members], weights[members])
            grown = np.nonzero(free & (vectors @ centre >= MEMBER_SIMILARITY))[0]
            if len(grown) == 0:
                break
            members = grown
        if seed not in members:
            members = np.union1d(members, [seed])
        free[members] = False
        if weights[members].sum() >= min_weight:
            clusters.append(members)
    return clusters
