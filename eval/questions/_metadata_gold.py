"""Writes eval/questions/metadata.jsonl (run from the repository root: python3 eval/questions/_metadata_gold.py). Gold lists of the lookup questions come from the stdlib parser in
eval/questions/_validate.py (independent of rag.listings); topic subsets were judged by hand from the abstracts."""
import json, sys
sys.path.insert(0, "eval/questions")
import _validate as V
P = V.load_corpus(V.DEFAULT_SEEDS)
def titles(f):
    return list(dict.fromkeys(p["title"] for p in P if f(p)))
pres = lambda p: p.get("presentation") or ""
by = lambda *names: (lambda p: all(n in (p.get("authors") or []) for n in names))
top5 = lambda p: "top 5% paper" in pres(p)
top25 = lambda p: "top 25% paper" in pres(p)
oral = lambda p: pres(p).startswith("Oral")
award = lambda p: bool(p.get("award"))
rows = []
def add(split, qid, question, gold, answer, facts, count=None, kind="metadata"):
    row = {"id": qid, "split": split, "type": kind, "question": question, "gold_titles": gold, "answer": answer, "key_facts": facts}
    if count is not None:
        row["count"] = count
    rows.append(row)
def author_q(split, qid, question, listed, shown):
    g = titles(by(*listed))
    add(split, qid, question, g, f"{shown} co-authored {len(g)} paper(s): " + "; ".join(g), [listed[0]])
# authors, exact and variant spellings
author_q("dev", "m01", "Which papers did Sewoong Oh co-author?", ["Sewoong Oh"], "Sewoong Oh")
author_q("test", "m02", "Papers by S. Oh?", ["Sewoong Oh"], "S. Oh (Sewoong Oh)")
author_q("dev", "m03", "What did Petar Velickovic work on here?", ["Petar Veličković"], "Petar Veličković")
author_q("test", "m04", "Which papers is MICAH GOLDBLUM on?", ["Micah Goldblum"], "Micah Goldblum")
author_q("dev", "m05", "List the papers of Fernanda Viegas.", ["Fernanda Viégas"], "Fernanda Viégas")
author_q("test", "m06", "Which papers did Geoffrey Hinton co-author?", ["Geoffrey E Hinton"], "Geoffrey E Hinton")
author_q("dev", "m07", "Which papers did Jonas Lotz write?", ["Jonas F. Lotz"], "Jonas F. Lotz")
author_q("test", "m08", "Show me Marc Finzi's papers.", ["Marc A Finzi"], "Marc A Finzi")
author_q("dev", "m09", "Which papers did tom goldstein co-author?", ["Tom Goldstein"], "Tom Goldstein")
author_q("test", "m10", "What has Jonas Geiping got in the collection?", ["Jonas Geiping"], "Jonas Geiping")
author_q("dev", "m11", "Which papers did Roozbeh Mottaghi and Ali Farhadi write together?", ["Roozbeh Mottaghi", "Ali Farhadi"], "Roozbeh Mottaghi and Ali Farhadi")
author_q("test", "m12", "Jung-Woo Ha: which papers is he an author of?", ["Jung-Woo Ha"], "Jung-Woo Ha")
author_q("dev", "m13", "Which paper is by Hong, Bhatia and Dragan?", ["Joey Hong", "Kush Bhatia", "Anca Dragan"], "Joey Hong, Kush Bhatia and Anca Dragan")
author_q("test", "m14", "Which papers did S. Ganguli co-author?", ["Surya Ganguli"], "Surya Ganguli")
author_q("dev", "m15", "Is there any paper co-authored by Liwei Wang?", ["Liwei Wang"], "Liwei Wang")
# unknown authors: the collection's author lists do not hold them
for split, qid, q in (("dev", "m16", "Which papers did Yann Dauphin co-author?"), ("test", "m17", "Is there anything written by Fei-Fei Li?"),
                      ("dev", "m18", "Which posters list Sewong Oh as an author?"), ("test", "m19", "What has Ilya Sutskever published here?"),
                      ("test", "m20", "Papers by Kaiming He?"), ("dev", "m21", "Show me the papers co-authored by Oriol Vinyals.")):
    add(split, qid, q, [], "", [], kind="unanswerable")
# awards, tiers, presentations, sessions, posters, pages
g = titles(award); add("dev", "m22", "Which posters won an award?", g, "Two: " + "; ".join(g) + " (Outstanding Paper, Honorable Mention).", ["Outstanding Paper", "Honorable Mention"])
g = titles(lambda p: p.get("award") == "Outstanding Paper"); add("test", "m23", "Which paper received the Outstanding Paper award?", g, g[0] + " (Outstanding Paper).", ["Outstanding Paper"])
g = titles(lambda p: p.get("award") == "Honorable Mention"); add("test", "m24", "Which paper got an honorable mention?", g, g[0] + " (Honorable Mention).", ["Honorable Mention"])
g = titles(top5); add("dev", "m25", "Which posters were rated top 5%?", g, f"{len(g)} papers: " + "; ".join(g), ["top 5% paper"])
g = titles(top25); add("test", "m26", "List all the top-25% papers.", g, f"{len(g)} papers: " + "; ".join(g), ["top 25% paper"])
g = titles(top25); add("dev", "m27", "How many top-25% posters are there?", g, f"{len(g)} papers: " + "; ".join(g), ["top 25% paper"], count=len(g))
g = titles(top5); add("test", "m28", "How many papers are top 5%?", g, f"{len(g)} papers: " + "; ".join(g), ["top 5% paper"], count=len(g))
g = titles(oral); add("dev", "m29", "How many orals are in the collection?", g, f"{len(g)} orals: " + "; ".join(g), ["Oral presentation"], count=len(g))
g = titles(award); add("test", "m30", "How many papers won an award?", g, f"{len(g)}: " + "; ".join(g), ["Outstanding Paper"], count=len(g))
g = titles(lambda p: pres(p).startswith("Virtual")); add("dev", "m31", "Which papers were presented virtually?", g, "; ".join(g) + " (Virtual presentation).", ["Virtual presentation"])
g = titles(oral); add("test", "m32", "What was in the oral session?", g, f"{len(g)} orals: " + "; ".join(g), ["Oral presentation"])
g = titles(lambda p: (p.get("session") or "").startswith("Oral 6 Track 5")); add("dev", "m33", "Which papers are in Oral 6 Track 5?", g, f"{len(g)} papers: " + "; ".join(g), ["Oral presentation"])
g = titles(lambda p: p.get("poster") == "#57"); add("test", "m34", "What is poster #57?", g, f"Poster #57 is {g[0]}.", ["#57"])
g = titles(lambda p: p.get("poster") == "#31"); add("dev", "m35", "Which paper was poster number 31?", g, f"Poster #31 is {g[0]}.", ["#31"])
g = titles(lambda p: p["page"].startswith("001") and len(p.get("authors") or []) == 1); add("test", "m36", "Which papers in the poster session have a single author?", g, "; ".join(g), ["Poster Session 3"])
add("dev", "m37", "How many single-author papers are on the poster session page?", g, f"{len(g)}: " + "; ".join(g), ["Poster Session 3"], count=len(g))
g = titles(lambda p: top5(p) and "Micah Goldblum" in (p.get("authors") or [])); add("test", "m38", "Which top-5% posters were co-authored by Micah Goldblum?", g, "; ".join(g) + " (top 5% paper).", ["top 5% paper"])
g = titles(lambda p: p["page"].startswith("000") and "Davide Bacciu" in (p.get("authors") or [])); add("dev", "m39", "Which papers on page 1 are by Davide Bacciu?", g, "; ".join(g), ["Davide Bacciu"])
g = titles(lambda p: p["page"].startswith("004")); add("test", "m40", "How many papers are listed on page 5?", g, f"{len(g)} papers.", [g[0].split(":")[0]], count=len(g))
g = titles(lambda p: award(p) and top5(p)); add("dev", "m41", "Which award-winning papers were top 5%?", g, "; ".join(g) + " (both top 5% paper).", ["top 5% paper"])
g = titles(lambda p: pres(p).startswith("In-Person") and "Poster Session 3" == p.get("session") and "poster accept" in pres(p))
add("test", "m42", "How many regular poster accepts were presented in person in Poster Session 3?", g, f"{len(g)} papers.", ["poster accept"], count=len(g))
# mixed: a lookup, then a topic judged by hand from the abstracts
def mixed(split, qid, question, gold, facts, count=None):
    add(split, qid, question, gold, "; ".join(gold), facts, count=count)
mixed("dev", "m43", "Which top-5% posters are about graph neural networks?", ["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"], ["GNNs"])
mixed("test", "m44", "Which top-25% papers are about optimal transport?", ["Sparsity-Constrained Optimal Transport", "Efficient Discrete Multi Marginal Optimal Transport Regularization"], ["Optimal Transport"])
mixed("dev", "m45", "Which top-25% posters deal with contrastive learning?", ["Unsupervised Meta-learning via Few-shot Pseudo-supervised Contrastive Learning", "The Trade-off between Universality and Label Efficiency of Representations from Contrastive Learning"], ["Contrastive Learning"])
mixed("test", "m46", "Which of Micah Goldblum's papers are about privacy?", ["Decepticons: Corrupted Transformers Breach Privacy in Federated Learning for Language Models"], ["Decepticons"])
mixed("dev", "m47", "Which award-winning posters are about self-supervised learning?", ["On the duality between contrastive and non-contrastive self-supervised learning"], ["self-supervised learning"])
mixed("test", "m48", "Which RL posters is Ofir Nachum an author of?", ["Dichotomy of Control: Separating What You Can Control from What You Cannot", "A Mixture-of-Expert Approach to RL-based Dialogue Management"], ["Dichotomy of Control"])
mixed("dev", "m49", "How many top-5% posters are about equivariance?", ["The Lie Derivative for Measuring Learned Equivariance", "Image to Sphere: Learning Equivariant Features for Efficient Pose Prediction"], ["Equivariance"], count=2)
mixed("test", "m50", "Which orals are about graphs?", ["Dual Algorithmic Reasoning", "DIFFormer: Scalable (Graph) Transformers Induced by Energy Constrained Diffusion"], ["Dual Algorithmic Reasoning"])
# by reading the 27 abstracts: Bellman-score estimation (rewards, optimal policies, Q-values) and Hanabi
# (Dec-POMDP agents) are reinforcement learning too, though neither abstract says "reinforcement learning"
mixed("dev", "m51", "Which top-25% posters are about reinforcement learning?", ["SMART: Self-supervised Multi-task pretrAining with contRol Transformers", "Hyperbolic Deep Reinforcement Learning", "Understanding and Adopting Rational Behavior by Bellman Score Estimation", "Adversarial Diversity in Hanabi"], ["Hyperbolic Deep Reinforcement Learning"])
mixed("test", "m52", "Which papers by Roozbeh Mottaghi are about radiance fields?", ["Neural Radiance Field Codebooks"], ["Neural Radiance Field Codebooks"])
with open("eval/questions/metadata.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows), sum(r["split"] == "dev" for r in rows), [ (r["id"], len(r["gold_titles"])) for r in rows if len(r["gold_titles"]) >= 10])
